//! The panic shim: no panic ever unwinds across an `extern "C"` boundary.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use abi_stable::std_types::RResult;

use super::FfiError;
use crate::PluginError;

/// Runs `f`, turning an error or a panic into an [`FfiError`]; every `extern`
/// entry point of the SDK goes through this.
pub fn guard<T>(f: impl FnOnce() -> Result<T, PluginError>) -> RResult<T, FfiError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => RResult::ROk(value),
        Ok(Err(e)) => RResult::RErr(e.into()),
        Err(payload) => {
            RResult::RErr(PluginError::Panicked(panic_message(payload.as_ref())).into())
        }
    }
}

/// Runs a cleanup function whose failure can only be reported, never returned.
pub(crate) fn guard_release(what: &str, f: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
        tracing::error!(
            "panic while releasing {what}: {}",
            panic_message(payload.as_ref())
        );
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder: for
/// reporting a panic caught with `catch_unwind`.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_errors() {
        let r = guard::<()>(|| panic!("boom {}", 7));
        let e: PluginError = r.into_result().unwrap_err().into();
        assert_eq!(e, PluginError::Panicked("boom 7".into()));
        let ok = guard(|| Ok(3)).into_result().unwrap();
        assert_eq!(ok, 3);
    }
}
