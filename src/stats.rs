//! (to be written)
pub struct Summary;
