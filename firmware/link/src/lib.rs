//! Board link: frame set, SLCAN codec, carriers.
