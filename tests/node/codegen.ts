// graphql-codegen as a frontend team runs it: the client preset over the committed SDL, with
// the trusted-documents manifest (generated/persisted-documents.json) a production build ships.
// CLAIMSDB_SCHEMA names another SDL (tests/test_frontend_codegen.py checks a changed schema
// breaks the build).
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: process.env.CLAIMSDB_SCHEMA ?? "../../api/schema.graphql",
  documents: ["src/**/*.ts"],
  ignoreNoDocuments: false,
  generates: {
    "generated/": {
      preset: "client",
      presetConfig: {
        persistedDocuments: true,
        fragmentMasking: false,
      },
      config: {
        strictScalars: true,
        scalars: { DateTime: "string", Date: "string", JSON: "unknown" },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
