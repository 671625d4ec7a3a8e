//go:build !floestress

package jitter

// Built reports whether this build can inject jitter (the floestress tag).
const Built = false
