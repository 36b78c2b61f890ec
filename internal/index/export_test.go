package index

// ParseRefs exposes parseRefs to the fuzz target.
var ParseRefs = parseRefs
