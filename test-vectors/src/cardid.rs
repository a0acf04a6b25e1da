//! (vectors to come)
