//! Explore against the engine: log volume of raw SQL without its LIMIT, filters from a click,
//! the logs sample, context from the row's stream labels, tag keys and values.
