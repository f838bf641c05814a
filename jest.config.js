/** Unit tests: the program under Pulumi's mocks, offline. */
module.exports = {
    preset: "ts-jest",
    testEnvironment: "node",
    roots: ["<rootDir>/test"],
    testMatch: ["**/*.test.ts"],
    transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
    // TypeScript only when a test uses it, not whenever the Pulumi SDK loads: test/typescriptOnDemand.ts.
    moduleNameMapper: { "^typescript$": "<rootDir>/test/typescriptOnDemand.ts" },
    testTimeout: 20000,
    // Jest's default on a 2-core machine is one worker (cores - 1), but many suites wait on
    // real processes (ssh, sshd, shellcheck, the Compose CLI) rather than compute: two workers
    // took 41 s against 55 s for one, three no better (measured side by side, quiet machine).
    maxWorkers: 2,
    reporters: ["default", "<rootDir>/test/summaryReporter.js"],
};
