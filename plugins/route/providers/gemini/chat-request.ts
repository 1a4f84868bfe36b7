/**
 * An OpenAI chat completion request → a Gemini `GenerateContentRequest`
 * (https://ai.google.dev/api/generate-content#request-body). Sampling parameters go to
 * `generationConfig` (https://ai.google.dev/api/generate-content#generationconfig), tools to
 * `tools[].functionDeclarations` with their JSON Schema in `parametersJsonSchema`, `tool_choice` to
 * `toolConfig.functionCallingConfig` (https://ai.google.dev/gemini-api/docs/function-calling#function_calling_modes),
 * where `required` and a named function are both mode `ANY`, the latter limited to that function.
 */
import { errors } from '../../../../core/errors.js';
import { maxTokensOf, readToolChoice } from '../../openai-request.js';
import { CHAT_BASE_PARAMS, MESSAGE_BASE_FIELDS, unsupportedFields, unsupportedMessageFields, type UnsupportedParams } from '../../params.js';
import { toGeminiJsonSchema } from './json-schema.js';
import { translateMessages } from './messages.js';

/** Chat request fields Gemini can honour. */
const SUPPORTED: ReadonlySet<string> = new Set([...CHAT_BASE_PARAMS, 'top_p', 'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'reasoning_effort']);

/** Message fields Gemini can honour: a tool result's `name` names its function; a legacy `function_call` is a call. */
const MESSAGE_FIELDS: ReadonlySet<string> = new Set([...MESSAGE_BASE_FIELDS, 'tool.name', 'function.name', 'assistant.function_call']);

/** `reasoning_effort` → `thinkingConfig.thinkingLevel` (https://ai.google.dev/gemini-api/docs/thinking). */
const THINKING_LEVELS: Record<string, string> = { minimal: 'MINIMAL', low: 'LOW', medium: 'MEDIUM', high: 'HIGH' };

/** Provider settings the translation needs. */
export interface ChatRequestOptions {
  provider: string;
  unsupportedParams: UnsupportedParams;
  /** Sent as `safetySettings` on every request when set. */
  safetySettings?: unknown[];
}

/** The Gemini request body, and what was left out of it. */
export interface ChatRequest {
  body: Record<string, unknown>;
  /** Fields left out in `drop` mode, for the debug log. */
  dropped: string[];
}

/** Translates a chat request; throws a 400 for values Gemini cannot take and, in `reject` mode, for unsupported fields. */
export function buildChatRequest(input: Readonly<Record<string, unknown>>, options: ChatRequestOptions): ChatRequest {
  // Gemini always may call functions in parallel, so only `parallel_tool_calls: false` is unhonourable.
  const checked = input['parallel_tool_calls'] === true ? { ...input, parallel_tool_calls: undefined } : input;
  const dropped = unsupportedFields(checked, SUPPORTED, options.unsupportedParams, options.provider);
  dropped.push(...unsupportedMessageFields(input['messages'], MESSAGE_FIELDS, options.unsupportedParams, options.provider));

  const { systemInstruction, contents } = translateMessages(input['messages'], options.provider);
  const body: Record<string, unknown> = { contents };
  if (systemInstruction) body['systemInstruction'] = systemInstruction;
  const tools = translateTools(input['tools']);
  if (tools) body['tools'] = tools;
  const toolConfig = translateToolChoice(input['tool_choice']);
  if (toolConfig) body['toolConfig'] = toolConfig;
  if (options.safetySettings?.length) body['safetySettings'] = options.safetySettings;
  const generationConfig = translateGenerationConfig(input);
  if (Object.keys(generationConfig).length) body['generationConfig'] = generationConfig;
  return { body, dropped };
}

function translateGenerationConfig(input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined && value !== null) config[key] = value;
  };
  set('temperature', input['temperature']);
  set('topP', input['top_p']);
  set('maxOutputTokens', maxTokensOf(input));
  const stop = input['stop'];
  set('stopSequences', typeof stop === 'string' ? [stop] : stop);
  set('candidateCount', input['n']);
  set('seed', input['seed']);
  set('presencePenalty', input['presence_penalty']);
  set('frequencyPenalty', input['frequency_penalty']);

  const effort = input['reasoning_effort'];
  if (effort !== undefined && effort !== null) {
    const level = THINKING_LEVELS[String(effort)];
    if (!level) throw errors.badRequest('invalid_value', `reasoning_effort '${String(effort)}' is not supported by Gemini; use minimal, low, medium or high.`, 'reasoning_effort');
    config['thinkingConfig'] = { thinkingLevel: level };
  }

  const format = input['response_format'] as { type?: string; json_schema?: { schema?: unknown } } | undefined | null;
  if (format?.type === 'json_object') {
    config['responseMimeType'] = 'application/json';
  } else if (format?.type === 'json_schema') {
    config['responseMimeType'] = 'application/json';
    if (format.json_schema?.schema !== undefined) config['responseJsonSchema'] = toGeminiJsonSchema(format.json_schema.schema);
  } else if (format && format.type !== 'text') {
    throw errors.badRequest('invalid_value', `response_format type '${String(format.type)}' is not supported by Gemini.`, 'response_format');
  }
  return config;
}

interface ToolIn {
  type?: string;
  function?: { name?: string; description?: string; parameters?: unknown };
}

function translateTools(raw: unknown): unknown[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) return undefined;
  const declarations = (raw as ToolIn[]).map((tool, i) => {
    if (tool.type !== 'function' || !tool.function?.name) {
      throw errors.badRequest('unsupported_tool', `tools[${i}]: only function tools are supported by Gemini.`, `tools[${i}]`);
    }
    const declaration: Record<string, unknown> = { name: tool.function.name };
    if (tool.function.description) declaration['description'] = tool.function.description;
    if (tool.function.parameters !== undefined) declaration['parametersJsonSchema'] = toGeminiJsonSchema(tool.function.parameters);
    return declaration;
  });
  return [{ functionDeclarations: declarations }];
}

const MODES = { auto: 'AUTO', none: 'NONE', required: 'ANY', function: 'ANY' } as const;

function translateToolChoice(raw: unknown): Record<string, unknown> | undefined {
  const choice = readToolChoice(raw);
  if (!choice) return undefined;
  const mode = MODES[choice.mode];
  return { functionCallingConfig: choice.mode === 'function' ? { mode, allowedFunctionNames: [choice.name] } : { mode } };
}
