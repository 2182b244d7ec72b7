//! The configuration file (`--config FILE`, or `GATEHOUSE_CONFIG`): TOML, one `key = value` per
//! flag of `gatehouse serve`, named as the flag without its dashes and with `_` for `-`
//! (`--database-url` → `database_url`). A flag given on the command line wins, then its
//! environment variable, then the file, then the built-in default. `examples/gatehouse.toml`
//! lists every key.
//!
//! The file's values become the flags' defaults, so clap parses and checks them exactly as it
//! does the command line, and `--help` keeps working. `keys rotate` and `admin token create`
//! read the same file for the keys they share with `serve` (the database, the master key).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Command;

/// The argument naming the file, on each subcommand that reads it.
pub const ARG: &str = "config";

/// Reads the file the command line (or `GATEHOUSE_CONFIG`) names, if any, and makes its values
/// the defaults of the subcommand being run. `command` is the whole CLI; returns it with the
/// file that was read.
pub fn apply(command: Command, args: &[OsString]) -> Result<(Command, Option<PathBuf>), String> {
    // A first pass finds the subcommand and the file; if it fails (a typo, `--help`), the
    // second pass, without a file, reports it as clap always does.
    let Ok(matches) = command.clone().try_get_matches_from(args) else {
        return Ok((command, None));
    };
    let mut path = Vec::new();
    let mut leaf = &matches;
    while let Some((name, sub)) = leaf.subcommand() {
        path.push(name.to_owned());
        leaf = sub;
    }
    let file = match leaf.try_get_one::<PathBuf>(ARG) {
        Ok(Some(file)) => file.clone(),
        _ => return Ok((command, None)),
    };
    let values = read(&file)?;
    let known = serve_keys(&command);
    if let Some(unknown) = values.iter().map(|(k, _)| k).find(|k| !known.contains(k)) {
        return Err(format!(
            "{}: unknown key `{unknown}` (keys are the flags of `gatehouse serve`, as in `database_url`)",
            file.display()
        ));
    }
    Ok((with_defaults(command, &path, &values), Some(file)))
}

/// The keys a file may hold: the long flags of `serve`, as ids.
fn serve_keys(command: &Command) -> Vec<String> {
    command
        .find_subcommand("serve")
        .map(|serve| {
            serve
                .get_arguments()
                .filter(|a| a.get_long().is_some() && a.get_id() != ARG)
                .map(|a| a.get_id().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Parses the file into `(key, values)` pairs; an array gives several values.
fn read(file: &Path) -> Result<Vec<(String, Vec<String>)>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read the config file {}: {e}", file.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", file.display()))
}

fn parse(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let mut out = Vec::with_capacity(table.len());
    for (key, value) in table {
        let values = match value {
            toml::Value::Array(items) => items
                .into_iter()
                .map(|item| scalar(&key, item))
                .collect::<Result<Vec<_>, _>>()?,
            other => vec![scalar(&key, other)?],
        };
        out.push((key, values));
    }
    Ok(out)
}

fn scalar(key: &str, value: toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Datetime(_) | toml::Value::Array(_) | toml::Value::Table(_) => Err(format!(
            "`{key}` must be a string, a number, a boolean or an array of them (sections are not used)"
        )),
    }
}

/// `command` with the subcommand at `path` defaulting each of its flags named in `values`.
fn with_defaults(command: Command, path: &[String], values: &[(String, Vec<String>)]) -> Command {
    let Some((first, rest)) = path.split_first() else {
        let ids: Vec<String> = command.get_arguments().map(|a| a.get_id().to_string()).collect();
        return values
            .iter()
            .filter(|(key, _)| ids.contains(key))
            .fold(command, |command, (key, value)| {
                command.mut_arg(key.as_str(), |arg| arg.default_values(value.clone()))
            });
    };
    command.mut_subcommand(first.as_str(), |sub| with_defaults(sub, rest, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_and_arrays_become_flag_values() {
        let parsed = parse(
            "listen = \"0.0.0.0:80\"\ndemo = true\nlockout_failures = 5\nfastpass_ports = [8769, 8770]\n",
        );
        assert_eq!(
            parsed,
            Ok(vec![
                ("demo".to_owned(), vec!["true".to_owned()]),
                (
                    "fastpass_ports".to_owned(),
                    vec!["8769".to_owned(), "8770".to_owned()]
                ),
                ("listen".to_owned(), vec!["0.0.0.0:80".to_owned()]),
                ("lockout_failures".to_owned(), vec!["5".to_owned()]),
            ])
        );
    }

    #[test]
    fn the_example_file_parses_and_names_every_serve_flag() {
        use clap::CommandFactory as _;
        let text = include_str!("../../../examples/gatehouse.toml");
        let example = parse(text).unwrap();
        let known = serve_keys(&crate::Cli::command());
        for (key, _) in &example {
            assert!(
                known.contains(key),
                "examples/gatehouse.toml: `{key}` is not a flag of serve"
            );
        }
        // Every flag is there, set to its default or commented out (the secrets).
        for key in &known {
            let set = example.iter().any(|(k, _)| k == key);
            assert!(
                set || text.contains(&format!("# {key} = ")),
                "examples/gatehouse.toml does not mention `{key}`"
            );
        }
        // The values are valid: clap accepts them as the flags' defaults.
        let command = with_defaults(crate::Cli::command(), &["serve".to_owned()], &example);
        assert!(command.try_get_matches_from(["gatehouse", "serve"]).is_ok());
    }

    #[test]
    fn sections_and_bad_toml_are_refused_with_the_reason() {
        let section = parse("[database]\nurl = \"x\"\n");
        assert!(section.is_err_and(|e| e.contains("`database`") && e.contains("sections are not used")));
        let broken = parse("listen = ");
        assert!(broken.is_err_and(|e| e.contains("line 1")));
    }
}
