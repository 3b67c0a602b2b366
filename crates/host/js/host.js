'use strict';
// deployer's plugin host: runs Serverless v3 plugins with the v3 plugin API inside one Node.js
// process, driven by deployer over stdin/stdout. Every message is one line of JSON. deployer
// sends commands ({op}); the host answers each with {type:'done'} or {type:'failed'}, and while
// a hook runs it may ask deployer ({type:'naming'|'credentials'}) and read the reply before
// going on. Everything the plugins print is sent as {type:'log'} lines: stdout carries only the
// protocol.

const fs = require('fs');
const path = require('path');
const Module = require('module');
const util = require('util');
const { pathToFileURL } = require('url');

// ---------------------------------------------------------------- the wire

function send(message) {
  const line = JSON.stringify(message) + '\n';
  const bytes = Buffer.from(line, 'utf8');
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += fs.writeSync(1, bytes, offset);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
      sleep(1);
    }
  }
}

const pending = { buffer: Buffer.alloc(0) };
const chunk = Buffer.alloc(1 << 16);

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// Blocking read of the next line: hooks are suspended while deployer answers, as v3's own
// synchronous naming calls would be.
function receive() {
  for (;;) {
    const newline = pending.buffer.indexOf(10);
    if (newline >= 0) {
      const line = pending.buffer.subarray(0, newline).toString('utf8');
      pending.buffer = pending.buffer.subarray(newline + 1);
      return JSON.parse(line);
    }
    let read;
    try {
      read = fs.readSync(0, chunk, 0, chunk.length, null);
    } catch (err) {
      if (err.code === 'EAGAIN') {
        sleep(1);
        continue;
      }
      throw err;
    }
    if (read === 0) process.exit(0);
    pending.buffer = Buffer.concat([pending.buffer, chunk.subarray(0, read)]);
  }
}

function ask(question) {
  send(question);
  const reply = receive();
  if (reply.error !== undefined) throw new Error(reply.error);
  return reply.ok;
}

// ---------------------------------------------------------------- output of the plugins

const current = { plugin: null, hook: null };

function log(level, parts, plugin) {
  const text = parts.map((p) => (typeof p === 'string' ? p : util.inspect(p))).join(' ');
  const lines = text.replace(/\u001b\[[0-9;]*m/g, '').split('\n');
  for (const line of lines) {
    if (line.trim() !== '') send({ type: 'log', level, plugin: plugin || current.plugin, text: line });
  }
}

function captureStream(stream, level) {
  stream.write = (data, encoding, callback) => {
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
    log(level, [text.replace(/\n$/, '')]);
    const done = typeof encoding === 'function' ? encoding : callback;
    if (typeof done === 'function') done();
    return true;
  };
}
captureStream(process.stdout, 'notice');
captureStream(process.stderr, 'warning');

// v3's pluginUtils (`@serverless/utils/log` getPluginWriters): per-plugin writers.
function pluginWriters(name) {
  const writer = (level) => (...parts) => log(level, parts, name);
  const logger = writer('notice');
  for (const level of ['error', 'warning', 'notice', 'info', 'debug', 'verbose', 'success']) {
    logger[level] = writer(level === 'success' ? 'notice' : level);
  }
  logger.get = () => logger;
  const progress = {
    create: (options = {}) => progressItem(name, options),
    get: (progressName) => progressItem(name, { name: progressName }),
  };
  return {
    log: logger,
    writeText: (text) => log('notice', [Array.isArray(text) ? text.join('\n') : text], name),
    progress,
  };
}

function progressItem(name, options) {
  if (options.message) log('info', [options.message], name);
  return {
    update: (message) => message && log('info', [message], name),
    notice: (message) => message && log('info', [message], name),
    info: (message) => message && log('info', [message], name),
    remove: () => {},
  };
}

// ---------------------------------------------------------------- the serverless object

class ServerlessError extends Error {
  constructor(message, code, options) {
    super(message, options);
    this.name = 'ServerlessError';
    this.code = code;
  }
}

// What v3's Service sets by itself; never handed back to deployer as configuration.
const RUNTIME_SERVICE_KEYS = new Set(['serverless', 'serviceObject', 'pluginsData', 'initialServerlessConfig']);

class Service {
  constructor(serverless, config, injected) {
    Object.defineProperty(this, 'serverless', { value: serverless, enumerable: false, writable: true });
    Object.defineProperty(this, 'injected', { value: injected, enumerable: false });
    Object.assign(this, config);
    this.serviceObject = { name: config.service };
    this.pluginsData = {};
    this.provider = this.provider || {};
    this.custom = this.custom || {};
    this.functions = this.functions || {};
    this.resources = this.resources || {};
    this.package = this.package || {};
    this.layers = this.layers || {};
    this.plugins = this.plugins || [];
  }
  getServiceName() { return this.serviceObject.name; }
  getServiceObject() { return this.serviceObject; }
  getAllFunctions() { return Object.keys(this.functions); }
  getAllLayers() { return Object.keys(this.layers); }
  getAllFunctionsNames() { return this.getAllFunctions().map((f) => this.getFunction(f).name); }
  getFunction(name) {
    if (name in this.functions) return this.functions[name];
    throw new ServerlessError(`Function "${name}" doesn't exist in this Service`, 'FUNCTION_MISSING_IN_SERVICE');
  }
  getLayer(name) {
    if (name in this.layers) return this.layers[name];
    throw new ServerlessError(`Layer "${name}" doesn't exist in this Service`, 'LAYER_MISSING_IN_SERVICE');
  }
  isLayer(name) { return name in this.layers; }
  getAllEventsInFunction(name) { return this.getFunction(name).events || []; }
  getEventInFunction(eventName, functionName) {
    const event = this.getFunction(functionName).events.find((e) => Object.keys(e)[0] === eventName);
    if (event) return event;
    throw new ServerlessError(`Event "${eventName}" doesn't exist in function "${functionName}"`, 'EVENT_MISSING_FOR_FUNCTION');
  }
  publish(data) { Object.assign(this.pluginsData, data); }
  // v3: every function without a name gets `<service>-<stage>-<key>`.
  setFunctionNames(options = {}) {
    const stage = options.stage || this.serverless.getProvider('aws').getStage();
    for (const [key, fn] of Object.entries(this.functions || {})) {
      if (fn && !fn.name) {
        fn.name = `${this.service}-${stage}-${key}`;
        this.injected[key] = { ...(this.injected[key] || {}), name: fn.name };
      }
    }
  }
  update(data) { Object.assign(this, data); return this; }
  // The configuration as deployer reads it back: what the plugins changed, without what v3
  // computes on its own (function names, empty event lists, the compiled template).
  configuration() {
    const out = {};
    for (const [key, value] of Object.entries(this)) {
      if (!RUNTIME_SERVICE_KEYS.has(key)) out[key] = value;
    }
    out.provider = { ...this.provider };
    delete out.provider.compiledCloudFormationTemplate;
    delete out.provider.coreCloudFormationTemplate;
    delete out.provider.deploymentBucketObject;
    out.package = { ...this.package };
    delete out.package.artifactDirectoryName;
    delete out.package.artifactsS3KeyDirname;
    out.functions = {};
    for (const [key, fn] of Object.entries(this.functions || {})) {
      const copy = { ...fn };
      const given = this.injected[key] || {};
      if (given.name !== undefined && copy.name === given.name) delete copy.name;
      if (given.events && Array.isArray(copy.events) && copy.events.length === 0) delete copy.events;
      out.functions[key] = copy;
    }
    return JSON.parse(JSON.stringify(out));
  }
}

const state = {
  init: null,
  serverless: null,
  plugins: [],
  core: [],
  hooks: {},
  commands: {},
  sections: [],
  schema: { topLevel: [], functionEvents: [], functionEventProperties: [], functionProperties: [] },
  sdk: undefined,
  accountInfo: null,
};

function namingProxy() {
  return new Proxy(
    {},
    {
      get(_target, name) {
        if (typeof name !== 'string' || name === 'then' || name === 'toJSON') return undefined;
        return (...args) => fromWire(ask({ type: 'naming', fn: name, args: toWire(args), plugin: current.plugin }));
      },
    }
  );
}

// Regular expressions cross the wire as {"$regex": source, "flags": flags}.
function fromWire(value) {
  if (value && typeof value === 'object' && typeof value.$regex === 'string') {
    return new RegExp(value.$regex, value.flags || '');
  }
  return value;
}

function toWire(args) {
  return args.map((a) => (a === undefined ? null : a));
}

function loadSdk() {
  if (state.sdk !== undefined) return state.sdk;
  const places = [state.init.servicePath, ...state.plugins.map((p) => p.dir)];
  for (const place of places) {
    try {
      state.sdk = Module.createRequire(path.join(place, 'package.json'))('aws-sdk');
      return state.sdk;
    } catch (_err) {
      // Next place.
    }
  }
  state.sdk = null;
  return null;
}

function makeProvider(serverless) {
  const init = state.init;
  const provider = {
    serverless,
    naming: namingProxy(),
    getStage: () => init.stage,
    getRegion: () => init.region,
    getProfile: () => init.profile || undefined,
    getDeploymentPrefix: () => init.deploymentPrefix,
    getLogRetentionInDays: () => serverless.service.provider.logRetentionInDays,
    getApiGatewayRestApiId: () => {
      const apiGateway = serverless.service.provider.apiGateway;
      return apiGateway && apiGateway.restApiId ? apiGateway.restApiId : { Ref: 'ApiGatewayRestApi' };
    },
    getApiGatewayRestApiRootResourceId: () => {
      const apiGateway = serverless.service.provider.apiGateway;
      return apiGateway && apiGateway.restApiRootResourceId
        ? apiGateway.restApiRootResourceId
        : { 'Fn::GetAtt': ['ApiGatewayRestApi', 'RootResourceId'] };
    },
    getApiGatewayPredefinedResources: () => {
      const apiGateway = serverless.service.provider.apiGateway;
      return (apiGateway && apiGateway.restApiResources) ? [].concat(
        Array.isArray(apiGateway.restApiResources) ? apiGateway.restApiResources
          : Object.entries(apiGateway.restApiResources).map(([path, resourceId]) => ({ path, resourceId }))) : [];
    },
    getApiGatewayDescription: () => {
      const apiGateway = serverless.service.provider.apiGateway;
      return apiGateway ? apiGateway.description : undefined;
    },
    getApiGatewayStage: () => {
      const apiGateway = serverless.service.provider.apiGateway || {};
      return apiGateway.stage || init.stage;
    },
    getCredentials: () => {
      const { endpoint: _endpoint, ...credentials } = ask({ type: 'credentials', service: 'credentials', method: 'getCredentials', plugin: current.plugin });
      const AWS = loadSdk();
      const value = AWS ? new AWS.Credentials(credentials) : credentials;
      return { region: init.region, credentials: value };
    },
    getAccountInfo: async () => {
      if (!state.accountInfo) {
        const info = ask({ type: 'account', plugin: current.plugin });
        state.accountInfo = info;
      }
      return { ...state.accountInfo };
    },
    getAccountId: async () => (await provider.getAccountInfo()).accountId,
    getServerlessDeploymentBucketName: async () => {
      const custom = serverless.service.provider.deploymentBucket;
      if (typeof custom === 'string') return custom;
      if (custom && custom.name) return custom.name;
      return ask({ type: 'bucket', plugin: current.plugin });
    },
    request: async (service, method, params, options = {}) => awsRequest(service, method, params, options),
    // v3: an image given by digest is answered as it is; a tag is looked up in ECR.
    resolveImageUriAndSha: async (functionName) => {
      const image = serverless.service.getFunction(functionName).image;
      const uri = typeof image === 'string' ? image : image && image.uri;
      if (!uri) {
        throw new ServerlessError(
          `function ${functionName}: deployer resolves images for plugins only by uri (provider.ecr.images names are built by Serverless)`,
          'DEPLOYER_IMAGE_BY_NAME'
        );
      }
      const digest = uri.split('@')[1];
      if (digest) return { functionImageUri: uri, functionImageSha: digest.slice('sha256:'.length) };
      const [repositoryName, imageTag] = uri.slice(uri.indexOf('/') + 1).split(':');
      const found = await awsRequest('ECR', 'describeImages', {
        imageIds: [{ imageTag }], repositoryName, registryId: uri.split('.')[0],
      }, {});
      const imageDigest = found.imageDetails[0].imageDigest;
      return { functionImageUri: `${uri.split(':')[0]}@${imageDigest}`, functionImageSha: imageDigest.slice('sha256:'.length) };
    },
  };
  Object.defineProperty(provider, 'sdk', { get: () => loadSdk() || undefined });
  provider.constructor = { getProviderName: () => 'aws' };
  return provider;
}

async function awsRequest(service, method, params, options) {
  const plugin = current.plugin;
  const AWS = loadSdk();
  if (!AWS) {
    throw new ServerlessError(
      `plugin ${plugin} calls AWS (${service}.${method}) through provider.request, which needs the AWS SDK for JavaScript v2: ` +
        `it is not installed in this project. Install it with \`npm install --save-dev aws-sdk@2\` (Serverless v3 brings it).`,
      'DEPLOYER_NO_AWS_SDK'
    );
  }
  if (typeof AWS[service] !== 'function') {
    throw new ServerlessError(`plugin ${plugin} calls an AWS service the SDK does not know: ${service}`, 'DEPLOYER_UNKNOWN_SERVICE');
  }
  // deployer answers with the stage's proven credentials (proving a refresh first) and counts
  // the call; a refusal is thrown here, before anything is sent.
  const { endpoint, ...credentials } = ask({ type: 'credentials', service, method, plugin });
  const region = (options && typeof options === 'object' && options.region) || state.init.region;
  const config = { region, credentials: new AWS.Credentials(credentials), maxRetries: 4 };
  if (endpoint || state.init.endpoint) {
    config.endpoint = endpoint || state.init.endpoint;
    config.s3ForcePathStyle = true;
  }
  const client = new AWS[service](config);
  if (typeof client[method] !== 'function') {
    throw new ServerlessError(`plugin ${plugin} calls ${service}.${method}, which the AWS SDK does not have`, 'DEPLOYER_UNKNOWN_METHOD');
  }
  return client[method](params || {}).promise();
}

function makeServerless(init) {
  // v3 fills these in before the first hook runs, whether or not they were given.
  init.options = { ...init.options, stage: init.stage, region: init.region };
  const injected = {};
  const config = JSON.parse(JSON.stringify(init.service));
  config.provider = config.provider || {};
  config.provider.stage = config.provider.stage || init.stage;
  config.provider.region = config.provider.region || init.region;
  for (const [key, fn] of Object.entries(config.functions || {})) {
    if (!fn) continue;
    injected[key] = {};
    if (fn.name === undefined) {
      fn.name = `${config.service}-${init.stage}-${key}`;
      injected[key].name = fn.name;
    }
    if (fn.events === undefined) {
      fn.events = [];
      injected[key].events = true;
    }
  }
  const serverless = {
    version: init.frameworkVersion,
    getVersion: () => init.frameworkVersion,
    instanceId: init.instanceId,
    serviceDir: init.servicePath,
    configurationFilename: init.configurationFilename,
    processedInput: { commands: init.commands, options: init.options },
    cli: {
      log: (message, entity) => log('notice', [entity ? `${entity}: ${message}` : String(message)]),
      consoleLog: (message) => log('notice', [message === undefined ? '' : message]),
      printDot: () => {},
      generateCommandsHelp: () => {},
    },
    classes: { Error: ServerlessError },
    // What plugins add to the v3 schema: deployer then knows these settings are theirs.
    configSchemaHandler: {
      defineTopLevelProperty: (name) => state.schema.topLevel.push(String(name)),
      defineCustomProperties: () => {},
      defineFunctionEvent: (_provider, name) => state.schema.functionEvents.push(String(name)),
      defineFunctionEventProperties: (_provider, event, schema) =>
        state.schema.functionEventProperties.push(...schemaKeys(schema).map((key) => `${event}.${key}`)),
      defineFunctionProperties: (_provider, schema) => state.schema.functionProperties.push(...schemaKeys(schema)),
      defineProvider: () => {},
    },
    utils: makeUtils(),
    addServiceOutputSection: (name, lines) => state.sections.push({ name, lines: [].concat(lines).map(String) }),
    logDeprecation: (code, message) => log('warning', [`deprecation ${code}: ${message}`]),
    extendConfiguration: (keys, value) => extendConfiguration(serverless, keys, value),
  };
  serverless.config = { serviceDir: init.servicePath, stage: init.stage, region: init.region };
  Object.defineProperty(serverless.config, 'servicePath', {
    get: () => serverless.serviceDir,
    set: (value) => { serverless.serviceDir = value; },
    enumerable: true,
  });
  serverless.service = new Service(serverless, config, injected);
  serverless.variables = { service: serverless.service };
  serverless.configurationInput = init.service;
  const provider = makeProvider(serverless);
  serverless.providers = { aws: provider };
  serverless.getProvider = (name) => (name === 'aws' ? provider : undefined);
  serverless.setProvider = (name, value) => { serverless.providers[name] = value; };
  serverless.pluginManager = makePluginManager(serverless);
  serverless.service.provider.compiledCloudFormationTemplate = { AWSTemplateFormatVersion: '2010-09-09', Resources: {}, Outputs: {} };
  serverless.service.package.artifactDirectoryName = init.artifactDirectoryName;
  serverless.service.package.artifactsS3KeyDirname = `${init.deploymentPrefix}/${config.service}/${init.stage}/code-artifacts`;
  return serverless;
}

function schemaKeys(schema) {
  return schema && schema.properties ? Object.keys(schema.properties) : [];
}

function extendConfiguration(serverless, keys, value) {
  const pathKeys = Array.isArray(keys) ? keys : String(keys).split('.');
  let target = serverless.service;
  for (const key of pathKeys.slice(0, -1)) {
    if (target[key] === undefined || target[key] === null) target[key] = {};
    target = target[key];
  }
  target[pathKeys[pathKeys.length - 1]] = JSON.parse(JSON.stringify(value));
}

function makeUtils() {
  const ensureDir = (file) => fs.mkdirSync(path.dirname(file), { recursive: true });
  return {
    writeFileSync: (file, contents) => {
      ensureDir(file);
      const text = typeof contents === 'string' || Buffer.isBuffer(contents) ? contents : JSON.stringify(contents, null, 2);
      fs.writeFileSync(file, text);
    },
    writeFile: async (file, contents) => makeUtils().writeFileSync(file, contents),
    appendFileSync: (file, contents) => { ensureDir(file); fs.appendFileSync(file, contents); },
    readFileSync: (file) => {
      const text = fs.readFileSync(file, 'utf8');
      return file.endsWith('.json') ? JSON.parse(text) : text;
    },
    readFile: async (file) => makeUtils().readFileSync(file),
    fileExistsSync: (file) => { try { return fs.statSync(file).isFile(); } catch (_e) { return false; } },
    dirExistsSync: (dir) => { try { return fs.statSync(dir).isDirectory(); } catch (_e) { return false; } },
    walkDirSync: (dir) => walk(dir),
    copyDirContentsSync: (from, to) => fs.cpSync(from, to, { recursive: true }),
    generateShortId: (length) => Math.random().toString(36).slice(2, 2 + length),
    isEventUsed: (functions, eventName) =>
      Object.values(functions).some((f) => (f.events || []).some((e) => Object.keys(e)[0] === eventName)),
  };
}

function walk(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full));
    else out.push(full);
  }
  return out;
}

// What plugins read of core plugins: the API Gateway events compiler (split-stacks looks it
// up by class name for the REST API events and their resource names).
class AwsCompileApigEvents {
  constructor(serverless) {
    this.serverless = serverless;
    this.provider = serverless.getProvider('aws');
    this.apiGatewayMethodLogicalIds = [];
  }
  get validated() {
    const events = [];
    const service = this.serverless.service;
    for (const functionName of service.getAllFunctions()) {
      for (const event of service.getFunction(functionName).events || []) {
        if (!event || !event.http) continue;
        const http = typeof event.http === 'string' ? parseHttp(event.http) : { ...event.http };
        http.path = String(http.path || '').replace(/^\/+/, '').replace(/\/+$/, '');
        http.method = String(http.method || '').toLowerCase();
        events.push({ functionName, http });
      }
    }
    return { events, corsPreflight: {} };
  }
  getResourceName(resourcePath) {
    return this.provider.naming.normalizePath(resourcePath);
  }
  getResourceId(resourcePath) {
    return { Ref: this.provider.naming.getResourceLogicalId(resourcePath) };
  }
}

function parseHttp(text) {
  const [method, path] = text.trim().split(/\s+/);
  return { method, path };
}

function makePluginManager(serverless) {
  return {
    serverless,
    get hooks() { return state.hooks; },
    get plugins() { return [...state.core, ...state.plugins.map((p) => p.instance)]; },
    get commands() { return state.commands; },
    getPlugins: () => state.plugins.map((p) => p.instance),
    get cliOptions() { return state.init.options; },
    commandRunStartTime: Date.now(),
    addPlugin: (Plugin) => register(Plugin, Plugin.name || 'plugin', null),
    spawn: async (command) => spawn(command),
  };
}

// `spawn` of a plugin's own command or of a lifecycle event: its events' hooks, in v3's order.
async function spawn(command) {
  const name = Array.isArray(command) ? command.join(':') : String(command);
  const declared = findCommand(name);
  const events = declared && declared.lifecycleEvents ? declared.lifecycleEvents.map((e) => `${name}:${e}`) : [name];
  for (const event of events) {
    await runEvent(`before:${event}`);
    await runEvent(event);
    await runEvent(`after:${event}`);
  }
}

function findCommand(name) {
  let level = { commands: state.commands };
  for (const part of name.split(':')) {
    if (!level.commands || !level.commands[part]) return null;
    level = level.commands[part];
  }
  return level;
}

// ---------------------------------------------------------------- loading plugins

function resolvePlugin(entry) {
  try {
    return Module.createRequire(path.join(entry.base, 'package.json')).resolve(entry.request);
  } catch (err) {
    const hint = entry.request.startsWith('.') || path.isAbsolute(entry.request) ? '' : ` Run "npm install --save-dev ${entry.name}" to install it.`;
    throw new ServerlessError(
      `Serverless plugin "${entry.name}" not found (${err.message.split('\n')[0]}). Make sure it's installed and listed in the "plugins" section of your serverless config file.${hint}`,
      'PLUGIN_NOT_FOUND'
    );
  }
}

async function requirePlugin(entry, file) {
  const { name } = entry;
  let loaded;
  try {
    loaded = require(file);
  } catch (err) {
    if (err.code !== 'ERR_REQUIRE_ESM') throw err;
    loaded = await import(pathToFileURL(file).href);
  }
  if (loaded && loaded.__esModule && loaded.default) loaded = loaded.default;
  if (loaded && typeof loaded !== 'function' && typeof loaded.default === 'function') loaded = loaded.default;
  if (typeof loaded !== 'function') {
    throw new ServerlessError(`Serverless plugin "${name}", didn't export Plugin constructor.`, 'MISSING_PLUGIN_NAME');
  }
  return loaded;
}

function register(Plugin, name, dir) {
  if (state.plugins.some((p) => p.Plugin === Plugin)) {
    throw new ServerlessError('Encountered duplicate plugin definition. Please remove duplicate plugins from your configuration.', 'DUPLICATE_PLUGIN_DEFINITION');
  }
  current.plugin = name;
  current.hook = 'constructor';
  const instance = new Plugin(state.serverless, state.init.options, pluginWriters(name));
  const providerName = instance.provider && (typeof instance.provider === 'string' ? instance.provider
    : instance.provider.constructor && instance.provider.constructor.getProviderName && instance.provider.constructor.getProviderName());
  if (providerName && providerName !== 'aws') return;
  state.plugins.push({ name, dir, Plugin, instance });
  mergeCommands(state.commands, instance.commands || {});
  for (const [event, hook] of Object.entries(instance.hooks || {})) {
    if (typeof hook !== 'function') continue;
    (state.hooks[event] = state.hooks[event] || []).push({ pluginName: name, hook });
  }
}

function mergeCommands(into, commands) {
  for (const [key, command] of Object.entries(commands)) {
    const existing = into[key];
    if (!existing) {
      into[key] = { ...command, commands: {} };
    } else if (command.lifecycleEvents && command.lifecycleEvents.length) {
      existing.lifecycleEvents = command.lifecycleEvents;
    }
    mergeCommands(into[key].commands, command.commands || {});
  }
}

async function loadAll(init) {
  for (const entry of init.plugins) {
    current.plugin = entry.name;
    current.hook = 'load';
    const file = resolvePlugin(entry);
    const Plugin = await requirePlugin(entry, file);
    register(Plugin, entry.name, path.dirname(file));
  }
  for (const plugin of state.plugins) {
    if (typeof plugin.instance.asyncInit === 'function') {
      current.plugin = plugin.name;
      current.hook = 'asyncInit';
      await plugin.instance.asyncInit();
    }
  }
}

// ---------------------------------------------------------------- running hooks

async function runEvent(event) {
  for (const { pluginName, hook } of state.hooks[event] || []) {
    const outer = { ...current };
    current.plugin = pluginName;
    current.hook = event;
    await hook();
    Object.assign(current, outer);
  }
}

function template() {
  return state.serverless.service.provider.compiledCloudFormationTemplate;
}

async function handle(message) {
  switch (message.op) {
    case 'init': {
      state.init = message;
      state.serverless = makeServerless(message);
      state.core = [new AwsCompileApigEvents(state.serverless)];
      await loadAll(message);
      return { hooks: Object.keys(state.hooks), schema: state.schema };
    }
    case 'run': {
      if (message.template) state.serverless.service.provider.compiledCloudFormationTemplate = message.template;
      if (message.context) Object.assign(state.init, message.context);
      for (const event of message.events) await runEvent(event);
      return {
        service: message.wantService ? state.serverless.service.configuration() : undefined,
        template: message.template ? template() : undefined,
        sections: state.sections.splice(0),
      };
    }
    default:
      throw new Error(`unknown command ${message.op}`);
  }
}

function failure(err) {
  const serverlessError = err && (err.name === 'ServerlessError' || err instanceof ServerlessError);
  return {
    type: 'failed',
    plugin: current.plugin,
    hook: current.hook,
    message: err && err.message ? err.message : String(err),
    code: err && err.code ? String(err.code) : undefined,
    userError: Boolean(serverlessError),
    stack: err && err.stack ? String(err.stack).split('\n').slice(0, 12).join('\n') : undefined,
  };
}

async function main() {
  for (;;) {
    const message = receive();
    try {
      const result = await handle(message);
      send({ type: 'done', ...result });
    } catch (err) {
      send(failure(err));
    }
  }
}

process.on('unhandledRejection', (err) => {
  send(failure(err));
  process.exit(70);
});

main().catch((err) => {
  send(failure(err));
  process.exit(70);
});
