//! The rule studio: a web page for writing, trying, testing, backtesting and saving rulesets.
