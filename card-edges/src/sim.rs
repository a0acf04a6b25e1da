//! Simulated cards (placeholder).
