import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Failures (of activities and workflows) carry their message and stack trace as an encoded
 * payload instead of plain fields, so the payload codec seals them like any other payload: an
 * error such as "device bmc-7 at https://10.0.0.5 refused the credentials" is not readable in
 * `temporal workflow show` without the key. Clients decode such failures whatever their own
 * converter is. Loaded by path (the worker puts it into the workflow sandbox too).
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
