//! The accept loop: plain TCP or TLS, being built.
