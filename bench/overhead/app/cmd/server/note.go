package main

// buildNote is printed by -version. bench/overhead.sh rewrites this file for its
// one-file-change rebuilds.
const buildNote = "inspector 1.0"
