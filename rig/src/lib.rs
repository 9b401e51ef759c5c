//! Rig library.
