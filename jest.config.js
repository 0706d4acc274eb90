/** Tests are TypeScript, transpiled by swc (type checking is `tsc` in `npm test`). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  testTimeout: 60000,
  // one provisioning step for the whole suite: installs (as root) every Debian package a tier needs
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
};
