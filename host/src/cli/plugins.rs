//! `topictable plugins list | describe`.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use topictable::PluginRegistry;
use topictable_sdk::ConfigSpec;

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// List every plugin in the plugin directory, with the formats and sinks it offers.
    /// Files that are refused are listed on stderr with the reason.
    List {
        /// Also show how many FFI objects each plugin made and released.
        #[arg(long)]
        objects: bool,
    },
    /// Show a plugin's (or a format's or sink's) config keys: types, defaults and docs.
    Describe {
        /// A plugin name, a format name (e.g. `simple`) or a sink name.
        name: String,
    },
}

pub fn run(cmd: PluginsCommand, dir: &Path) -> ExitCode {
    let (registry, errors) = PluginRegistry::load_dir(dir);
    for e in &errors {
        eprintln!("warning: {e}");
    }
    match cmd {
        PluginsCommand::List { objects } => list(&registry, dir, objects),
        PluginsCommand::Describe { name } => describe(&registry, &name),
    }
}

fn list(registry: &PluginRegistry, dir: &Path, objects: bool) -> ExitCode {
    if registry.plugins().is_empty() {
        println!("no plugins loaded from {}", dir.display());
        return ExitCode::SUCCESS;
    }
    let mut rows = vec![
        ["PLUGIN", "VERSION", "ABI", "FORMATS", "SINKS", "FILE"]
            .map(String::from)
            .to_vec(),
    ];
    for p in registry.plugins() {
        let join = |names: Vec<String>| {
            if names.is_empty() {
                "-".to_string()
            } else {
                names.join(",")
            }
        };
        rows.push(vec![
            p.info.name.clone(),
            p.info.version.clone(),
            p.info.abi_version.clone(),
            join(
                p.codecs
                    .iter()
                    .map(|c| c.description.format.clone())
                    .collect(),
            ),
            join(p.sinks.iter().map(|s| s.description.name.clone()).collect()),
            p.path.display().to_string(),
        ]);
    }
    print_table(&rows);
    if objects {
        println!();
        for p in registry.plugins() {
            println!("{}: {:?}", p.info.name, p.object_counts());
        }
    }
    ExitCode::SUCCESS
}

fn describe(registry: &PluginRegistry, name: &str) -> ExitCode {
    let mut found = false;
    for p in registry.plugins() {
        let whole_plugin = p.info.name == name;
        for c in p
            .codecs
            .iter()
            .filter(|c| whole_plugin || c.description.format == name)
        {
            found = true;
            println!(
                "format `{}` (plugin {} {}, {})",
                c.description.format,
                p.info.name,
                p.info.version,
                p.path.display()
            );
            println!("  {}", c.description.doc);
            println!(
                "  decode: yes   encode: {}",
                if c.description.can_encode {
                    "yes"
                } else {
                    "no"
                }
            );
            print_config(&c.description.config);
        }
        for s in p
            .sinks
            .iter()
            .filter(|s| whole_plugin || s.description.name == name)
        {
            found = true;
            println!(
                "sink `{}` (plugin {} {}, {})",
                s.description.name,
                p.info.name,
                p.info.version,
                p.path.display()
            );
            println!("  {}", s.description.doc);
            print_config(&s.description.config);
        }
    }
    if found {
        ExitCode::SUCCESS
    } else {
        let names: Vec<String> = registry
            .plugins()
            .iter()
            .flat_map(|p| {
                std::iter::once(p.info.name.clone())
                    .chain(p.codecs.iter().map(|c| c.description.format.clone()))
                    .chain(p.sinks.iter().map(|s| s.description.name.clone()))
            })
            .collect();
        let hint = topictable_sdk::config::closest(name, names.iter().map(String::as_str))
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        eprintln!(
            "error: no plugin, format or sink named `{name}`{hint}; known: {}",
            names.join(", ")
        );
        ExitCode::from(2)
    }
}

fn print_config(spec: &ConfigSpec) {
    if spec.keys.is_empty() {
        println!("  config: (no keys)\n");
        return;
    }
    let mut rows = vec![["KEY", "TYPE", "DEFAULT", "DOC"].map(String::from).to_vec()];
    for k in &spec.keys {
        let default = match (&k.default, k.required) {
            (_, true) => "(required)".to_string(),
            (Some(v), _) => v.to_string(),
            (None, _) => "-".to_string(),
        };
        rows.push(vec![
            k.name.clone(),
            k.kind.describe(),
            default,
            k.doc.clone(),
        ]);
    }
    print!("  ");
    print_table_indented(&rows, "  ");
    println!();
}

fn print_table(rows: &[Vec<String>]) {
    print_table_indented(rows, "");
}

fn print_table_indented(rows: &[Vec<String>], indent: &str) {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if c + 1 == row.len() {
                    cell.clone()
                } else {
                    format!("{cell:<w$}", w = widths[c])
                }
            })
            .collect();
        if i > 0 {
            print!("{indent}");
        }
        println!("{}", line.join("  "));
    }
}
