// Package jitter is a test hook that widens Floe's race windows: random
// sleeps at the seams where its goroutines and processes hand work to
// each other (a source emitting a batch, the coordinator receiving it,
// each table commit, an acknowledgement, a snapshot chunk read, a
// watermark read), so that an ordering bug a quiet machine hides shows up
// in a test run instead of on a user's busy one.
//
// In: calls to At(seam) from the packages that own the seams.
// Out: nothing in production builds. Only a build with the floestress
// tag (`go build -tags floestress`, `go test -tags floestress`, as `make
// stress` does) carries the sleeping code, and it sleeps only when the
// environment variable FLOE_JITTER is set, e.g.
//
//	FLOE_JITTER=seed=42,p=0.3,max=20ms
//
// p is the chance that a seam sleeps (hot seams, those passed once per
// batch, use a quarter of it) and max the longest sleep (hot seams: a
// quarter). Sleeps are heavy-tailed: most are short, a few approach max.
// With FLOE_JITTER_STATS=DIR each process rewrites DIR/<pid>.json every 100 ms
// with how often each seam was passed and slept, which lets the stress
// harness prove the hook was live in every process of a run.
//
// Invariants: At never changes what the caller does, only when; a
// production build's At is one nil check (TestProductionBuildHasNoJitter
// checks the symbol table of both builds).
//
// See docs/architecture.md (deploy/stress, make stress).
package jitter
