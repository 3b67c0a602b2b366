// deployer's `invoke local` runner for Node.js: loads the handler, calls it once with the
// event and a Lambda-like context, and writes the outcome as JSON to the result file.
// Arguments: <handler file> <export name> <work dir holding event.json and context.json>.
'use strict';
const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');

const [file, exportName, work] = process.argv.slice(2);
const resultFile = path.join(work, 'result.json');
let settled = false;

function errorShape(err) {
  if (!(err instanceof Error)) {
    return { errorType: 'Error', errorMessage: String(err), stackTrace: [] };
  }
  return {
    errorType: err.name || (err.constructor && err.constructor.name) || 'Error',
    errorMessage: err.message,
    stackTrace: String(err.stack || '').split('\n').slice(1).map((l) => l.trim()),
  };
}

function finish(outcome) {
  if (settled) return;
  settled = true;
  fs.writeFileSync(resultFile, JSON.stringify(outcome));
  process.exit(0);
}

function succeed(result) {
  finish(result === undefined ? { result: null } : { result });
}

function fail(err) {
  finish({ error: errorShape(err) });
}

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

async function main() {
  const event = JSON.parse(fs.readFileSync(path.join(work, 'event.json'), 'utf8'));
  const info = JSON.parse(fs.readFileSync(path.join(work, 'context.json'), 'utf8'));
  const deadline = Date.now() + info.timeoutMs;
  const context = {
    awsRequestId: info.awsRequestId,
    functionName: info.functionName,
    functionVersion: info.functionVersion,
    invokedFunctionArn: info.invokedFunctionArn,
    memoryLimitInMB: String(info.memoryLimitInMB),
    logGroupName: info.logGroupName,
    logStreamName: info.logStreamName,
    clientContext: info.clientContext,
    identity: undefined,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: (err, result) => (err ? fail(err) : succeed(result)),
    succeed: (result) => succeed(result),
    fail: (err) => fail(err),
  };
  const mod = await import(pathToFileURL(file).href);
  // A CommonJS module's exports arrive as `default` (and, when Node can tell, by name too).
  let handler = mod[exportName];
  if (typeof handler !== 'function' && mod.default) handler = mod.default[exportName];
  if (typeof handler !== 'function') {
    const err = new Error(`${path.basename(file)} does not export a function "${exportName}"`);
    err.name = 'Runtime.HandlerNotFound';
    return fail(err);
  }
  const callback = (err, result) => (err ? fail(err) : succeed(result));
  const returned = handler(event, context, callback);
  if (returned && typeof returned.then === 'function') {
    succeed(await returned);
  } else if (handler.length < 3) {
    // A synchronous handler without a callback: its return value is the result.
    succeed(returned);
  }
  // Otherwise the handler answers through the callback.
}

main().catch(fail);
