//! Charger shell library.
