/** The input naming an intent that came back, shared with createUser (users/schema.ts); it imports nothing else, so either side may load first. */
import { builder } from '../../graphql/builder.js';
import type { SchemaTypes } from '../../graphql/helpers.js';

export const idpIntentFields = (t: PothosSchemaTypes.InputFieldBuilder<SchemaTypes, 'InputObject'>) => ({
  intentId: t.id({ required: true, description: 'The `id` the success URL received.' }),
  token: t.string({ required: true, description: 'The `token` the success URL received. Keep it secret; it works once.' }),
});

export const IdpIntentInput = builder.inputType('IdpIntentInput', {
  description: 'An intent that came back from an identity provider: the `id` and `token` its success URL received.',
  fields: (t) => idpIntentFields(t),
});
