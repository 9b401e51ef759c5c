//! Sans-IO charger core.
