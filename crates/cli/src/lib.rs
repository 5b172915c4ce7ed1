//! hookvault-cli
