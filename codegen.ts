// Typed documents for the tests: `graphql(...)` calls in test/ are checked
// against schema.graphql and get result and variable types.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['test/**/*.ts', '!test/gql/**'],
  ignoreNoDocuments: true,
  silent: true,
  generates: {
    'test/gql/': {
      preset: 'client',
      config: { scalars: { DateTime: 'string', Date: 'string', JSON: 'unknown' }, enumsAsTypes: true, useTypeImports: true },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
