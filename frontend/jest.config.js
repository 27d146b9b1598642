// Tests run in jsdom (@grafana/data needs `window`), transformed by SWC.
process.env.TZ = 'UTC';

// ESM-only packages pulled in by @grafana/ui / @grafana/data that jest must transform.
const esModules = [
  'ol',
  'd3',
  'd3-[a-z-]+',
  'internmap',
  'delaunator',
  'robust-predicates',
  'marked',
  'react-colorful',
  'uuid',
  'lodash-es',
  'rbush',
  'quickselect',
  'earcut',
  'pbf',
  'color-(space|parse|rgba|name)',
  'monaco-promql',
  '@kusto/monaco-kusto',
  'monaco-editor',
  'react-calendar',
  'get-user-locale',
  'memoize',
  'mimic-function',
  'is-network-error',
  'ky',
  '@grafana/[a-z-]+',
  '@wojtekmaj/[a-z-]+',
].join('|');

module.exports = {
  testEnvironment: 'jsdom',
  roots: ['<rootDir>/src'],
  testMatch: ['<rootDir>/src/**/*.test.{ts,tsx}'],
  setupFilesAfterEnv: ['<rootDir>/jest-setup.ts'],
  reporters: ['default', '<rootDir>/jest-summary-reporter.js'],
  moduleNameMapper: {
    '\\.(css|scss|sass)$': 'identity-obj-proxy',
    '\\.(svg|png|jpg)$': '<rootDir>/src/__mocks__/fileMock.js',
    '^react-inlinesvg$': '<rootDir>/src/__mocks__/react-inlinesvg.tsx',
  },
  transform: {
    '^.+\\.(t|j)sx?$|^.+\\.mjs$': [
      '@swc/jest',
      {
        sourceMaps: 'inline',
        jsc: {
          parser: { syntax: 'typescript', tsx: true, decorators: false, dynamicImport: true },
          transform: { react: { runtime: 'automatic' } },
        },
      },
    ],
  },
  transformIgnorePatterns: [`node_modules/(?!(${esModules})/)`],
  watchPathIgnorePatterns: ['<rootDir>/node_modules', '<rootDir>/dist'],
};
