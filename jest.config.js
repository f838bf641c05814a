/** Unit tests: the program under Pulumi's mocks, offline. */
module.exports = {
    preset: "ts-jest",
    testEnvironment: "node",
    roots: ["<rootDir>/test"],
    testMatch: ["**/*.test.ts"],
    transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
    testTimeout: 20000,
    reporters: ["default", "<rootDir>/test/summaryReporter.js"],
};
