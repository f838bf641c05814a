// Where host/boot.sh records that the host finished booting; the runner's readiness check
// (runner/readinessSteps.ts) waits for it.
// Its own module, not beside the user data: the runner's readiness reads it, and the user data's
// `yaml` cost every runner command and every static-only stack about 0.1 s of loading (issue 22).

/** The file host/boot.sh writes when boot is done (host/userData.ts passes it to the script). */
export const READY_MARKER = "/var/lib/native-build-fleet/ready";
