//! One plugin file: probe, version and layout check, init.

use std::path::Path;
use std::sync::Mutex;

use topictable_sdk::abi::{
    ABI_VERSION, LibHeader, LibraryError, PluginModuleRef, ROOT_MODULE_LOADER_NAME, RawLibrary,
    SDK_VERSION, host_services, lib_header_from_raw_library,
};

/// Every library opened, held for the life of the process: a plugin's code
/// and statics may be referenced until exit, so nothing is ever unloaded.
static OPENED: Mutex<Vec<RawLibrary>> = Mutex::new(Vec::new());

/// Opens the library (for good) and finds abi_stable's header in it.
fn open_header(path: &Path) -> Result<&'static LibHeader, LibraryError> {
    let library = RawLibrary::load_at(path)?;
    // SAFETY: the header borrows from the library, which is pushed to OPENED
    // below and never dropped, so its 'static lifetime holds.
    let header = unsafe { lib_header_from_raw_library(&library) };
    OPENED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(library);
    header
}

use super::LoadError;

/// Who a loaded plugin says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// The plugin's name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// The SDK version it was built with.
    pub sdk_version: String,
    /// The ABI version it speaks.
    pub abi_version: String,
}

/// Loads the plugin library at `path`, checks it, and runs its `init`.
///
/// The library stays loaded for the life of the process, whatever happens.
pub fn load_library(path: &Path) -> Result<(PluginModuleRef, PluginInfo), LoadError> {
    probe(path)?;
    let header = open_header(path).map_err(|e| library_error(path, e))?;
    let module = header
        .init_root_module::<PluginModuleRef>()
        .map_err(|e| library_error(path, e))?;
    (module.init())(host_services())
        .into_result()
        .map_err(|e| LoadError::InitFailed {
            path: path.to_path_buf(),
            message: e.message.into_string(),
        })?;
    let info = (module.info())();
    let info = PluginInfo {
        name: info.name.into_string(),
        version: info.version.into_string(),
        sdk_version: info.sdk_version.into_string(),
        abi_version: info.abi_version.into_string(),
    };
    Ok((module, info))
}

/// Checks that the file is a complete object file before the OS loader maps
/// it: `dlopen` of a truncated library maps segments past the end of the file
/// and the process dies of SIGBUS when they are touched.
fn check_structure(path: &Path) -> Result<(), LoadError> {
    use object::{Object, ObjectSegment};
    let not_loadable = |reason: String| LoadError::NotLoadable {
        path: path.to_path_buf(),
        reason,
    };
    let data = std::fs::read(path).map_err(|e| not_loadable(e.to_string()))?;
    let file = object::File::parse(&*data)
        .map_err(|e| not_loadable(format!("not an object file ({e})")))?;
    for segment in file.segments() {
        let (offset, size) = segment.file_range();
        let end = offset.saturating_add(size);
        if end > data.len() as u64 {
            return Err(not_loadable(format!(
                "truncated: a segment ends at byte {end} but the file has {} bytes",
                data.len()
            )));
        }
    }
    Ok(())
}

/// Opens the file and looks for the plugin symbol without running any plugin code
/// beyond what the dynamic loader runs.
fn probe(path: &Path) -> Result<(), LoadError> {
    check_structure(path)?;
    // SAFETY: loading a shared library runs its initialisers; the plugin
    // directory is trusted like a Kafka Connect plugin path is.
    let library =
        unsafe { libloading::Library::new(path) }.map_err(|e| LoadError::NotLoadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let symbol = format!("{ROOT_MODULE_LOADER_NAME}\0");
    // SAFETY: we only test for the symbol's presence; it is never called or read here.
    let found = unsafe { library.get::<*const u8>(symbol.as_bytes()) }.is_ok();
    // Never unload: code or statics of the library may be referenced later.
    std::mem::forget(library);
    if found {
        Ok(())
    } else {
        Err(LoadError::NotAPlugin {
            path: path.to_path_buf(),
            symbol: ROOT_MODULE_LOADER_NAME,
        })
    }
}

fn library_error(path: &Path, e: LibraryError) -> LoadError {
    let path = path.to_path_buf();
    match e {
        LibraryError::IncompatibleVersionNumber { actual_version, .. } => {
            LoadError::IncompatibleAbi {
                path,
                plugin_abi: actual_version.to_string(),
                host_abi: ABI_VERSION,
                sdk_version: SDK_VERSION,
            }
        }
        LibraryError::AbiInstability(detail) => {
            let detail = detail.to_string();
            let short: String = detail
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(6)
                .collect::<Vec<_>>()
                .join(" | ");
            LoadError::LayoutMismatch {
                path,
                sdk_version: SDK_VERSION,
                detail: short,
            }
        }
        LibraryError::InvalidAbiHeader(header) => LoadError::IncompatibleAbi {
            path,
            plugin_abi: format!("abi_stable header {header:?}"),
            host_abi: ABI_VERSION,
            sdk_version: SDK_VERSION,
        },
        LibraryError::RootModule { err, .. } => LoadError::InitFailed {
            path,
            message: err.to_string(),
        },
        LibraryError::OpenError { err, .. } => LoadError::NotLoadable {
            path,
            reason: err.to_string(),
        },
        other => LoadError::NotLoadable {
            path,
            reason: other.to_string(),
        },
    }
}
