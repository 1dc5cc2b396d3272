//! The simulated weather and its ET0 feed (reference evapotranspiration, observed hourly and forecast
//! daily, [`zw_model::weather::Weather`] on `zw/v1/weather/{area}`).
//!
//! [`climate`] is the weather itself; [`feed`] observes and forecasts it like a DWD/Open-Meteo feed, for a
//! scenario ([`crate::scenario::Scenario::weather`]) or live ([`live_message`]); `publish` sends the live
//! message over MQTT for the demo (`[sim.weather]`, [`WeatherFeedConfig`]). The scenario's trees dry in
//! this weather; nothing here knows about trees.

pub mod climate;
pub mod feed;
mod publish;

pub use climate::REFERENCE_MM_PER_DAY;
pub(crate) use climate::{diurnal, evaporative_demand};
pub(crate) use feed::Feed;
pub use feed::{area, live_message};
pub use publish::WeatherFeedConfig;
pub(crate) use publish::run;
