//! hookvault-web
