//! Simulated Modbus meters and the server that answers for them, over Modbus TCP or RTU over TCP.
//!
//! * What is served: [`meters`] (the models' register maps), [`sdm630`] (the simulated building every model
//!   writes), [`faults`] (scripted misbehaviour per unit).
//! * How it is served: register images and the tokio-modbus service over them ([`RegisterImage`],
//!   [`ImageService`]), a simulated RS-485 line for RTU ([`mod@line`]), connections a fault can drop
//!   ([`KillableStream`]).
//! * Where: [`fleet`] expands the `[sim]` config into listeners and the meters behind each; `serve` binds
//!   them, steps the meters through the history and keeps their images current.

pub mod faults;
pub mod fleet;
mod image;
pub mod line;
pub mod meters;
pub mod sdm630;
mod serve;
mod stream;

pub use image::{Answer, ImageService, ReadLimits, RegisterImage, SharedImage};
pub use serve::HistorySample;
pub(crate) use serve::{bind, serve, update_meters};
pub use stream::KillableStream;
