//! German public holidays per federal state: computed in the model ([`zw_model::holidays`], shared with
//! the tariffs' time-of-use windows), re-exported here for the calendar.

pub use zw_model::holidays::*;
