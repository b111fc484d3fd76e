//! Loaded, checked and compiled rulesets as one engine: load rulesets from files or text,
//! build a patient record from FHIR JSON, evaluate at a time, read cards, values and
//! explanations. The `cds` crate re-exports this module as its facade.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cds_core::data::load::{read_bytes, FileFormat, LoadOptions};
use cds_core::fhirpath::ValueSetRegistry;

use cds_core::data::{PatientRecord, RecordError};
use cds_core::graph::{DataNeed, FiredCard, Graph, Issue, Plan, Value};
use cds_core::temporal::DateTime;

use crate::check::CheckDiagnostic;
use crate::compile::{Compiled, CompiledRuleset};

/// Why rulesets could not be loaded. Parse and check errors render with miette, with the
/// file's source, line and column.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EngineError {
    /// A file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// No `.rules` file was found.
    #[error("{0}: no .rules files found")]
    NoRulesets(PathBuf),
    /// Syntax errors.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Parse(#[from] crate::ParseErrors),
    /// Meaning errors found by the checker.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Check(#[from] crate::CheckErrors),
    /// The rulesets could not be compiled together.
    #[error(transparent)]
    Compile(#[from] crate::compile::CompileError),
    /// A ValueSet file is invalid.
    #[error("{0}")]
    ValueSet(String),
}

/// One loaded ruleset file.
#[derive(Debug, Clone)]
pub struct RulesetFile {
    /// Its path (or name, for sources given as text).
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// Its syntax tree.
    pub ast: crate::ast::Ruleset,
    /// The checker's warnings.
    pub warnings: Vec<CheckDiagnostic>,
}

/// Loaded, checked and compiled rulesets: one evaluation graph. Cheap to share across
/// threads (`Arc<Engine>`); evaluation never mutates it.
pub struct Engine {
    files: Vec<RulesetFile>,
    compiled: Compiled,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("rulesets", &self.files.len())
            .field("graph", &self.compiled.graph)
            .finish()
    }
}

/// The files directly in `dir` whose extension is `ext`, sorted.
pub fn files_with_extension(dir: &Path, ext: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_file() && p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// The `.rules` files under `path` (or `path` itself), sorted.
pub fn rules_files(path: &Path) -> Result<Vec<PathBuf>, EngineError> {
    let io = |e| EngineError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| EngineError::Io {
            path: dir.clone(),
            source: e,
        })?;
        for e in entries {
            let p = e
                .map_err(|e| EngineError::Io {
                    path: dir.clone(),
                    source: e,
                })?
                .path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rules") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

impl Engine {
    /// Loads a `.rules` file, or every `.rules` file under a folder (recursively), with the
    /// ValueSet JSON files of any `valuesets/` folder beside them. Every file is parsed and
    /// checked; the first file with errors is returned as the error (all of its errors).
    pub fn load(path: impl AsRef<Path>) -> Result<Engine, EngineError> {
        Engine::load_keeping(path, None).map(|(engine, _)| engine)
    }

    /// Loads like [`Engine::load`], but a file that fails to parse or check does not fail the
    /// load when `previous` holds a version of it (same path): that version keeps serving, and
    /// the file's errors are returned beside the engine. Files new since `previous` that fail
    /// are left out and reported likewise. What a server does on reload.
    pub fn load_keeping(
        path: impl AsRef<Path>,
        previous: Option<&Engine>,
    ) -> Result<(Engine, Vec<(PathBuf, EngineError)>), EngineError> {
        let path = path.as_ref();
        let (sources, registry) = read_sources(path, &[])?;
        let Some(previous) = previous else {
            return Engine::build(sources, registry).map(|e| (e, Vec::new()));
        };
        let mut kept = Vec::new();
        let mut failed = Vec::new();
        for (path, text) in sources {
            match check_source(&path, &text) {
                Ok(_) => kept.push((path, text)),
                Err(e) => {
                    if let Some(old) = previous.files.iter().find(|f| f.path == path) {
                        kept.push((path.clone(), old.text.clone()));
                    }
                    failed.push((path, e));
                }
            }
        }
        if kept.is_empty() {
            return Err(EngineError::NoRulesets(path.to_path_buf()));
        }
        Engine::build(kept, registry).map(|e| (e, failed))
    }

    /// Loads like [`Engine::load`], but with the text of some files replaced (a path not
    /// among the files found is added): what an editor evaluates before it saves.
    ///
    /// ```
    /// # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../rulesets/hypertension");
    /// let file = std::path::Path::new(dir).join("hypertension.rules");
    /// let edited = std::fs::read_to_string(&file)?.replace("version 1.", "version 9.");
    /// let engine = cds_rules::engine::Engine::load_with(dir, &[(file, edited)])?;
    /// assert!(engine.rulesets()[0].version.starts_with("9."));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_with(
        path: impl AsRef<Path>,
        overrides: &[(PathBuf, String)],
    ) -> Result<Engine, EngineError> {
        let (sources, registry) = read_sources(path.as_ref(), overrides)?;
        Engine::build(sources, registry)
    }

    /// Loads one ruleset given as text (`name` is used in diagnostics).
    pub fn from_source(name: &str, text: &str) -> Result<Engine, EngineError> {
        Engine::build(
            vec![(PathBuf::from(name), text.to_string())],
            ValueSetRegistry::new(),
        )
    }

    fn build(
        sources: Vec<(PathBuf, String)>,
        valuesets: ValueSetRegistry,
    ) -> Result<Engine, EngineError> {
        let mut files = Vec::new();
        for (path, text) in sources {
            let (ast, warnings) = check_source(&path, &text)?;
            files.push(RulesetFile {
                path,
                text,
                ast,
                warnings,
            });
        }
        let inputs: Vec<(&crate::ast::Ruleset, &str)> =
            files.iter().map(|f| (&f.ast, f.text.as_str())).collect();
        let compiled = crate::compile::compile(&inputs, Arc::new(valuesets))?;
        Ok(Engine { files, compiled })
    }

    /// The loaded ruleset files.
    pub fn files(&self) -> &[RulesetFile] {
        &self.files
    }

    /// What the compiler kept of each ruleset (definition nodes, rules).
    pub fn rulesets(&self) -> &[CompiledRuleset] {
        &self.compiled.rulesets
    }

    /// The evaluation graph.
    pub fn graph(&self) -> &Graph {
        &self.compiled.graph
    }

    /// The FHIR data the rules answering `hook` read (for CDS Hooks prefetch).
    pub fn data_needs(&self, hook: Option<&str>) -> Vec<DataNeed> {
        self.compiled.graph.data_needs(hook)
    }

    /// Evaluates the rules answering `hook` (all rules for `None`) for a record at a time.
    pub fn evaluate<'e, 'r>(
        &'e self,
        record: &'r PatientRecord,
        at: &DateTime,
        hook: Option<&str>,
    ) -> Evaluation<'e, 'r> {
        Evaluation {
            engine: self,
            inner: self.compiled.graph.evaluate(record, at, hook),
        }
    }
}

impl Engine {
    /// The plan of one ruleset's rules answering `hook`: what a CDS Hooks service of that
    /// ruleset evaluates (build it once, evaluate with [`Engine::evaluate_plan`]).
    pub fn plan_of_ruleset(&self, hook: Option<&str>, ruleset: &str) -> Arc<Plan> {
        self.compiled.graph.plan_of_ruleset(hook, ruleset)
    }

    /// The FHIR data a plan's nodes read.
    pub fn data_needs_of_plan(&self, plan: &Plan) -> Vec<DataNeed> {
        self.compiled.graph.data_needs_of_plan(plan)
    }

    /// Evaluates the nodes of a plan for a record at a time.
    pub fn evaluate_plan<'e, 'r>(
        &'e self,
        record: &'r PatientRecord,
        at: &DateTime,
        plan: &Plan,
    ) -> Evaluation<'e, 'r> {
        Evaluation {
            engine: self,
            inner: self.compiled.graph.evaluate_plan(record, at, plan),
        }
    }
}

/// The `.rules` files under `path` with their text (`overrides` replacing or adding some),
/// and the value sets of the `valuesets/` folders beside them.
fn read_sources(
    path: &Path,
    overrides: &[(PathBuf, String)],
) -> Result<(Vec<(PathBuf, String)>, ValueSetRegistry), EngineError> {
    let mut files = rules_files(path)?;
    for (p, _) in overrides {
        if !files.contains(p) {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        return Err(EngineError::NoRulesets(path.to_path_buf()));
    }
    let mut sources = Vec::new();
    let mut registry = ValueSetRegistry::new();
    let mut vs_dirs = std::collections::BTreeSet::new();
    for f in &files {
        let text = match overrides.iter().find(|(p, _)| p == f) {
            Some((_, text)) => text.clone(),
            None => std::fs::read_to_string(f).map_err(|e| EngineError::Io {
                path: f.clone(),
                source: e,
            })?,
        };
        if let Some(dir) = f.parent().map(|d| d.join("valuesets")) {
            if dir.is_dir() {
                vs_dirs.insert(dir);
            }
        }
        sources.push((f.clone(), text));
    }
    for dir in vs_dirs {
        let entries = files_with_extension(&dir, "json").map_err(|e| EngineError::Io {
            path: dir.clone(),
            source: e,
        })?;
        for p in entries {
            let bad = |m: String| EngineError::ValueSet(format!("{}: {m}", p.display()));
            let text = std::fs::read_to_string(&p).map_err(|e| bad(e.to_string()))?;
            let json: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
            registry.add(&json).map_err(|e| bad(e.to_string()))?;
        }
    }
    Ok((sources, registry))
}

/// Parses and checks one file.
fn check_source(
    path: &Path,
    text: &str,
) -> Result<(crate::ast::Ruleset, Vec<CheckDiagnostic>), EngineError> {
    let name = path.display().to_string();
    let ast = crate::parse(text, &name)?;
    let warnings = crate::check(&ast, text, &name).into_result()?;
    Ok((ast, warnings))
}

/// The result of one evaluation: cards, values and explanations.
pub struct Evaluation<'e, 'r> {
    engine: &'e Engine,
    inner: cds_core::graph::Evaluation<'e, 'r>,
}

impl<'e, 'r> Evaluation<'e, 'r> {
    /// The cards raised, in ruleset and rule order.
    pub fn cards(&self) -> &[FiredCard] {
        self.inner.cards()
    }

    /// The rules that fired, as (ruleset, rule id), in order — without rendering their cards
    /// (cards and evidence are rendered on first call of [`Evaluation::cards`]).
    pub fn fired(&self) -> impl Iterator<Item = (&'e str, &'e str)> + '_ {
        let specs = self.engine.compiled.graph.cards();
        self.inner
            .fired()
            .iter()
            .map(move |&i| (specs[i].ruleset.as_str(), specs[i].rule.as_str()))
    }

    /// The system actions of the raised cards.
    pub fn system_actions(&self) -> &[cds_core::card::Action] {
        self.inner.system_actions()
    }

    /// Problems met while evaluating (no patient values in them).
    pub fn issues(&self) -> &[Issue] {
        self.inner.issues()
    }

    /// The value of a definition or score of a ruleset (`None` when there is no such name,
    /// or the hook's rules did not need it).
    pub fn value(&self, ruleset: &str, name: &str) -> Option<&Value<'r>> {
        let rs = self
            .engine
            .compiled
            .rulesets
            .iter()
            .find(|r| r.name == ruleset)?;
        self.inner.value(rs.definition(name)?)
    }

    /// Why each rule of a ruleset did or did not fire, with the values it saw.
    pub fn explain(&self, ruleset: &str) -> Option<crate::explain::Explanation> {
        let i = self
            .engine
            .compiled
            .rulesets
            .iter()
            .position(|r| r.name == ruleset)?;
        let file = &self.engine.files[i];
        Some(crate::explain::explain(
            &file.ast,
            &file.text,
            &self.engine.compiled.rulesets[i],
            &self.inner,
        ))
    }

    /// The underlying graph evaluation.
    pub fn graph_evaluation(&self) -> &cds_core::graph::Evaluation<'e, 'r> {
        &self.inner
    }
}

/// Builds a patient record from FHIR JSON: one resource, a Bundle, or an array of them.
/// The record must hold exactly one Patient.
pub fn record_from_json(json: serde_json::Value) -> Result<PatientRecord, RecordInputError> {
    let items = match json {
        serde_json::Value::Array(a) => a,
        other => vec![other],
    };
    let mut resources = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let bytes = serde_json::to_vec(&item).unwrap_or_default();
        for r in read_bytes(
            &bytes,
            format!("input[{i}]"),
            FileFormat::Json,
            LoadOptions::default(),
        ) {
            resources.push(Arc::new(r.map_err(RecordInputError::Load)?));
        }
    }
    PatientRecord::build(resources).map_err(RecordInputError::Record)
}

/// Why FHIR JSON could not become a patient record.
#[derive(Debug, thiserror::Error)]
pub enum RecordInputError {
    /// A resource is malformed (the error names the JSON path, never values).
    #[error("{0}")]
    Load(cds_core::data::LoadError),
    /// The resources are not one patient's record.
    #[error("{0}")]
    Record(RecordError),
}
