/**
 * `@anklet/plugin-github-receiver`: the anklet receiver for GitHub `workflow_job` webhooks
 * (`plugin: github_receiver`).
 *
 * @packageDocumentation
 */
import { definePlugin } from '@anklet/core';
import { receiverConfigSchema } from './config.js';
import { createReceiver } from './receiver.js';

export { receiverConfigSchema, redeliveryConfigured, type ReceiverConfig } from './config.js';
export { createReceiver, type ReceiverTestOptions } from './receiver.js';
export { handleDelivery, type IntakeOptions, type IntakeAnswer, type IntakeHeaders } from './intake.js';
export { verifySignature } from './signature.js';
export { Redeliverer, type RedeliveryReport, type RedelivererOptions } from './redelivery.js';
export { createReceiverApp, listen, RECEIVER_PATH, type ReceiverServer } from './server.js';

export default definePlugin({
  name: '@anklet/plugin-github-receiver',
  kind: 'receiver',
  description: 'GitHub workflow_job webhooks in; Anka jobs stored durably; failed deliveries redelivered',
  configSchema: receiverConfigSchema,
  create: (ctx) => createReceiver(ctx),
});
