//! The Redis scripts' composition: each script lives in its own file under
//! `lua/`, and a script that calls a shared piece (`lua/shared/`) is that piece's
//! text followed by its own. Below every store that runs a script, so the
//! guards (rate buckets) and the sales (the reserve, loading a sale) compose
//! theirs from one place.

use redis::Script;

/// GCRA over several buckets (`charge`), for the scripts that charge rate buckets.
const GCRA: &str = include_str!("../lua/shared/gcra.lua");
/// A sale's rules from `ARGV` (`rules_from_argv`), for the scripts that write them.
const SALE_RULES: &str = include_str!("../lua/shared/sale_rules.lua");

/// A script that charges rate buckets: `body` after the GCRA code it calls.
pub(crate) fn charging_script(body: &str) -> Script {
    Script::new(&format!("{GCRA}{body}"))
}

/// A script that writes a sale's rules: `body` after the code that reads them.
pub(crate) fn rules_script(body: &str) -> Script {
    Script::new(&format!("{SALE_RULES}{body}"))
}
