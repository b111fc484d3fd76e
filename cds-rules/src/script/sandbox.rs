//! The one sandboxed rhai engine all scores compile and run on.

use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicIteratorPackage, BasicMapPackage, BasicMathPackage,
    BasicStringPackage, LogicPackage, MoreStringPackage, Package,
};
use rhai::Engine;
use std::sync::LazyLock;

/// Most operations (statements, expressions, calls, loop turns) one run may take.
pub const MAX_OPERATIONS: u64 = 200_000;
/// Deepest nesting of function calls (recursion included).
pub const MAX_CALL_LEVELS: usize = 8;
/// Deepest nesting of expressions at the top level of a script.
pub const MAX_EXPR_DEPTH: usize = 32;
/// Deepest nesting of expressions inside a function body.
pub const MAX_FUNCTION_EXPR_DEPTH: usize = 16;
/// Longest string (in bytes) a script may build.
pub const MAX_STRING_SIZE: usize = 10_000;
/// Most items in one array.
pub const MAX_ARRAY_SIZE: usize = 1_000;
/// Most entries in one object map.
pub const MAX_MAP_SIZE: usize = 1_000;
/// Most variables alive at once.
pub const MAX_VARIABLES: usize = 1_000;
/// Most functions one script may define.
pub const MAX_FUNCTIONS: usize = 32;

/// The shared engine (rhai's `sync` feature makes it `Send + Sync`).
pub(crate) fn engine() -> &'static Engine {
    static ENGINE: LazyLock<Engine> = LazyLock::new(build);
    &ENGINE
}

fn build() -> Engine {
    // No packages at all, then only what scores need. Left out on purpose: the language
    // core package (`sleep`, `exit`, `parse_json`, function metadata), function pointers'
    // helpers, blobs, bit fields and time.
    let mut engine = Engine::new_raw();
    ArithmeticPackage::new().register_into_engine(&mut engine);
    LogicPackage::new().register_into_engine(&mut engine);
    BasicMathPackage::new().register_into_engine(&mut engine);
    BasicStringPackage::new().register_into_engine(&mut engine);
    MoreStringPackage::new().register_into_engine(&mut engine);
    BasicIteratorPackage::new().register_into_engine(&mut engine);
    BasicArrayPackage::new().register_into_engine(&mut engine);
    BasicMapPackage::new().register_into_engine(&mut engine);

    // `eval` would run text built at run time; `import` is already gone (`no_module`).
    engine.disable_symbol("eval");
    // Output goes nowhere: scripts see patient data and must not log it.
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});

    // Every name a script reads must be a ruleset name or a local variable.
    engine.set_strict_variables(true);
    engine.set_fail_on_invalid_map_property(true);

    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_expr_depths(MAX_EXPR_DEPTH, MAX_FUNCTION_EXPR_DEPTH);
    engine.set_max_string_size(MAX_STRING_SIZE);
    engine.set_max_array_size(MAX_ARRAY_SIZE);
    engine.set_max_map_size(MAX_MAP_SIZE);
    engine.set_max_variables(MAX_VARIABLES);
    engine.set_max_functions(MAX_FUNCTIONS);
    engine
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_is_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>(_: &T) {}
        assert_send_sync(engine());
    }

    #[test]
    fn decimal_literals_and_exact_arithmetic() {
        let v: rust_decimal::Decimal = engine().eval("0.1 + 0.2").unwrap();
        assert_eq!(v.to_string(), "0.3");
    }
}
