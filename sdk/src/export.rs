//! `export_plugin!`: generates a plugin library's root module.

/// Exports a plugin's codecs and sinks from a `cdylib`.
///
/// ```ignore
/// topictable_sdk::export_plugin! {
///     name: "simple",
///     version: env!("CARGO_PKG_VERSION"),
///     codecs: [SimpleCodec],
///     sinks: [],
/// }
/// ```
///
/// It emits the one symbol the host looks for; the host checks its ABI
/// version and layout before calling anything in the plugin.
#[macro_export]
macro_rules! export_plugin {
    (
        name: $name:expr,
        version: $version:expr,
        codecs: [$($codec:expr),* $(,)?],
        sinks: [$($sink:expr),* $(,)?] $(,)?
    ) => {
        fn __topictable_plugin_definition() -> $crate::abi::PluginDefinition {
            $crate::abi::PluginDefinition {
                name: $name,
                version: $version,
                codecs: || ::std::vec![$(::std::boxed::Box::new($codec) as ::std::boxed::Box<dyn $crate::Codec>),*],
                sinks: || ::std::vec![$(::std::boxed::Box::new($sink) as ::std::boxed::Box<dyn $crate::SinkFactory>),*],
            }
        }

        /// The root module loader the host looks up (abi_stable's `LibHeader`).
        #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
        pub static __TOPICTABLE_ROOT_MODULE_LOADER: $crate::abi::LibHeader = {
            extern "C" fn __topictable_load_root_module() -> $crate::__private::abi_stable::library::RootModuleResult {
                $crate::__private::abi_stable::library::__call_root_module_loader(|| {
                    $crate::abi::plugin_module(__topictable_plugin_definition)
                })
            }
            // SAFETY: the constructor returns the `PluginModuleRef` named here,
            // and the layout of that type is checked by the host on load.
            unsafe {
                $crate::abi::LibHeader::from_constructor::<$crate::abi::PluginModuleRef>(
                    __topictable_load_root_module,
                    $crate::__private::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn exported_symbol_is_the_one_abi_stable_looks_up() {
        let src = include_str!("export.rs");
        let expected = format!("export_name = \"{}\"", crate::abi::ROOT_MODULE_LOADER_NAME);
        assert!(
            src.contains(&expected),
            "export_plugin! must export {expected}"
        );
    }
}
