//! hookvault-store
