//! Modules: finding the file an `import` names, reading, parsing and compiling it (once per
//! file), and the errors a user sees when that fails — all before the program starts.
//!
//! Invariants: `import a.b` looks for `a/b.toy` in the importing file's directory, then in
//! each directory of `TOY_PATH`, in that order, and names every place it looked when it
//! finds nothing; a module is identified by its canonical file, so two names that reach the
//! same file give the same module; a module whose compiling is still under way when it is
//! imported again closes a cycle and is refused. A failed import leaves no half-made module
//! behind: the table is cut back to where it was.

use crate::ast::Span;
use crate::compiler::{GlobalSlots, Mode, ModuleRef, ModuleResolver, compile, top_level_names};
use crate::error::Diagnostic;
use crate::heap::Heap;
use crate::object::{ModuleObj, Obj};
use crate::os_error::io_message;
use crate::value::Value;
use crate::vm::ModuleRecord;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The resolver the compiler calls for each `import`: it compiles new modules into the
/// interpreter's table, recursively, with the same heap and globals.
pub(crate) struct Loader<'a> {
    records: &'a mut Vec<ModuleRecord>,
    /// The directory of each file being compiled, innermost last: an import searches the
    /// directory of the file it is written in first.
    dirs: Vec<PathBuf>,
    /// The names of the modules being compiled, outermost first, to describe a cycle.
    chain: Vec<Rc<str>>,
}

impl<'a> Loader<'a> {
    /// A loader for compiling `file` (its imports search its directory first).
    pub(crate) fn new(records: &'a mut Vec<ModuleRecord>, file: &str) -> Loader<'a> {
        Loader {
            records,
            dirs: vec![directory_of(file)],
            chain: Vec::new(),
        }
    }
}

/// The directory a file's imports are searched in first; the current directory for a
/// file with none, or for `<stdin>` and `<eval>`.
fn directory_of(file: &str) -> PathBuf {
    if file.starts_with('<') {
        return PathBuf::new();
    }
    Path::new(file).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// A directory as a message shows it: `./` for the current one, with a trailing slash.
fn shown(dir: &Path) -> String {
    let text = dir.display().to_string();
    if text.is_empty() {
        "./".into()
    } else if text.ends_with('/') {
        text
    } else {
        format!("{text}/")
    }
}

/// Where to look, in order: the importing file's directory, then `TOY_PATH`.
fn search_path(first: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![first.to_path_buf()];
    if let Some(path) = std::env::var_os("TOY_PATH") {
        dirs.extend(std::env::split_paths(&path).filter(|d| !d.as_os_str().is_empty()));
    }
    dirs
}

impl ModuleResolver for Loader<'_> {
    fn import(
        &mut self,
        path: &[&str],
        span: Span,
        heap: &mut Heap,
        globals: &mut dyn GlobalSlots,
    ) -> Result<ModuleRef, Diagnostic> {
        let dotted: Rc<str> = path.join(".").into();
        let relative: PathBuf = path.iter().collect::<PathBuf>().with_extension("toy");
        let dirs = search_path(self.dirs.last().map_or(Path::new(""), PathBuf::as_path));
        let Some(found) = dirs.iter().map(|d| d.join(&relative)).find(|p| p.is_file()) else {
            let looked: Vec<String> = dirs.iter().map(|d| shown(d)).collect();
            return Err(Diagnostic::import(
                format!("no module named '{dotted}' (looked in {})", looked.join(", ")),
                span,
            ));
        };
        let file = std::fs::canonicalize(&found).unwrap_or_else(|_| found.clone());
        if let Some(id) = self.records.iter().position(|r| r.file == file) {
            let r = &self.records[id];
            if r.main.is_none() {
                let mut chain: Vec<String> = self.chain.iter().map(|n| format!("'{n}'")).collect();
                chain.push(format!("'{dotted}'"));
                return Err(Diagnostic::import(
                    format!("import cycle: {}", chain.join(" imports ")),
                    span,
                ));
            }
            return Ok(ModuleRef {
                id: id as u16,
                name: r.name.clone(),
                names: r.names.clone(),
            });
        }
        let id = u16::try_from(self.records.len())
            .map_err(|_| Diagnostic::import("too many modules (at most 65535)", span))?;
        let display = found.display().to_string();
        let source = read_module(&found)
            .map_err(|why| Diagnostic::import(format!("cannot read module '{dotted}' ({display}): {why}"), span))?;
        let elsewhere = |d: Diagnostic, source: &str| Diagnostic {
            elsewhere: Some(d.render(&display, source).into()),
            ..Diagnostic::import(String::new(), span)
        };
        let program = crate::parser::parse(&source).map_err(|d| elsewhere(d, &source))?;
        let names: Rc<[Rc<str>]> = top_level_names(&program)
            .iter()
            .map(|n| Rc::from(n.name.as_str()))
            .collect();
        // The globals' prefix: the module's name, made unique if another file has it.
        let mut namespace = dotted.clone();
        let mut n = 2;
        while self.records.iter().any(|r| r.namespace == namespace) {
            namespace = format!("{dotted}#{n}").into();
            n += 1;
        }
        let mut fields = rustc_hash::FxHashMap::default();
        for name in names.iter() {
            let slot = globals
                .declare(&format!("{namespace}.{name}"))
                .ok_or_else(|| Diagnostic::import("too many global variables", span))?;
            fields.insert(name.clone(), slot);
        }
        let value = Value::Obj(heap.alloc_pinned(Obj::Module(Box::new(ModuleObj {
            name: dotted.clone(),
            fields,
        }))));
        self.records.push(ModuleRecord {
            file,
            name: dotted.clone(),
            namespace: namespace.clone(),
            main: None,
            value,
            names: names.clone(),
            started: false,
        });
        self.dirs
            .push(found.parent().map(Path::to_path_buf).unwrap_or_default());
        self.chain.push(dotted.clone());
        let mode = Mode::Module { namespace, value };
        let compiled = compile(&program, &display, &source, heap, globals, self, mode);
        self.chain.pop();
        self.dirs.pop();
        match compiled {
            Ok(main) => {
                self.records[id as usize].main = Some(main);
                Ok(ModuleRef {
                    id,
                    name: dotted,
                    names,
                })
            }
            Err(d) => {
                self.records.truncate(id as usize);
                Err(elsewhere(d, &source))
            }
        }
    }
}

/// A module's text, or why it cannot be read.
fn read_module(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| io_message(&e))?;
    String::from_utf8(bytes).map_err(|_| "it is not valid UTF-8".to_string())
}
