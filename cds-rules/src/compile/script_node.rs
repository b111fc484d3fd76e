//! A rhai score as a graph node: values in, a number (or text, boolean, absent) out.

use cds_core::graph::{ScriptFn, Value};
use rust_decimal::Decimal;

use crate::script::{Script, ScriptValue};

/// A compiled score, callable by the evaluator.
pub(crate) struct ScriptNode {
    script: Script,
    key: String,
}

impl ScriptNode {
    pub(crate) fn new(script: Script) -> ScriptNode {
        // Equal behaviour needs the same text and the same inputs; the name is kept apart.
        let key = format!("{}\u{0}{:?}", script.source(), script.inputs());
        ScriptNode { script, key }
    }
}

fn to_script(v: &Value<'_>) -> ScriptValue {
    match v {
        Value::Bool(b) => ScriptValue::Bool(*b),
        Value::Number(n) => ScriptValue::Number(*n),
        Value::Quantity(q) => ScriptValue::Number(q.value),
        Value::Text(t) => ScriptValue::Text(t.to_string()),
        Value::Reading(_) => match v.as_decimal() {
            Some(n) => ScriptValue::Number(n),
            None => v
                .as_quantity()
                .map_or(ScriptValue::Absent, |q| ScriptValue::Number(q.value)),
        },
        Value::Readings(r) => ScriptValue::Number(Decimal::from(r.len())),
        Value::Absent | Value::List(_) => ScriptValue::Absent,
    }
}

impl ScriptFn for ScriptNode {
    fn name(&self) -> &str {
        self.script.name()
    }

    fn key(&self) -> &str {
        &self.key
    }

    fn run(&self, inputs: &[Value<'_>]) -> Result<Value<'static>, String> {
        let ins: Vec<ScriptValue> = inputs.iter().map(to_script).collect();
        match self.script.run(&ins) {
            Ok(ScriptValue::Absent) => Ok(Value::Absent),
            Ok(ScriptValue::Bool(b)) => Ok(Value::Bool(b)),
            Ok(ScriptValue::Number(n)) => Ok(Value::Number(n)),
            Ok(ScriptValue::Text(t)) => Ok(Value::Text(t.into())),
            Err(e) => Err(e.message.clone()),
        }
    }
}
