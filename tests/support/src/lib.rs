//! Helpers shared by topictable's tests and benches, a dev-dependency of the
//! crates that use them: one home, instead of files included by path.
//!
//! - [`reference_python`]: the reference client (Python with confluent-kafka);
//! - [`plugins`]: the workspace's plugin libraries, built for the running
//!   test, and plugin directories holding them;
//! - [`tansu`]: where the tansu broker binary is;
//! - `bench` (feature `bench`): the Kafka benches' tansu broker, plugin builds
//!   with the bench's profile, and CPU and memory counters.

pub mod plugins;
pub mod reference_python;
pub mod tansu;

#[cfg(feature = "bench")]
pub mod bench;
