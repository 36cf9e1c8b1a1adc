import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Keys of the custom search attributes in src/domain/operations.ts, typed for the client. */
export const DeviceIdKey = defineSearchAttributeKey('DeviceId', SearchAttributeType.KEYWORD);
export const DeviceNameKey = defineSearchAttributeKey('DeviceName', SearchAttributeType.KEYWORD);
export const OperationTypeKey = defineSearchAttributeKey('OperationType', SearchAttributeType.KEYWORD);
