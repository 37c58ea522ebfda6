import { Injectable } from '@nestjs/common';
import type { ReadResourceResult } from '@modelcontextprotocol/server';
import type { McpCallContext } from '../mcp/mcp-context';
import { Resource } from '../mcp/mcp.decorators';
import { TEST_PNG_BASE64 } from './conformance-media';

const TEMPLATE_IDS = ['123', '456', '789'];

/** The conformance suite's resource fixtures: static text, static binary, a template and a watched resource. */
@Injectable()
export class ConformanceResourceFixtures {
  @Resource({
    uri: 'test://static-text',
    name: 'static-text',
    title: 'Static Text Resource',
    description: 'A static text resource for testing',
    mimeType: 'text/plain',
  })
  staticText(): ReadResourceResult {
    return {
      contents: [
        {
          uri: 'test://static-text',
          mimeType: 'text/plain',
          text: 'This is the content of the static text resource.',
        },
      ],
    };
  }

  @Resource({
    uri: 'test://static-binary',
    name: 'static-binary',
    title: 'Static Binary Resource',
    description: 'A static binary resource (image) for testing',
    mimeType: 'image/png',
  })
  staticBinary(): ReadResourceResult {
    return { contents: [{ uri: 'test://static-binary', mimeType: 'image/png', blob: TEST_PNG_BASE64 }] };
  }

  @Resource({
    uriTemplate: 'test://template/{id}/data',
    name: 'template',
    title: 'Resource Template',
    description: 'A resource template with parameter substitution',
    mimeType: 'application/json',
    complete: { id: (prefix) => TEMPLATE_IDS.filter((id) => id.startsWith(prefix)) },
  })
  template(_ctx: McpCallContext, uri: URL, variables: Record<string, string | string[]>): ReadResourceResult {
    const id = String(variables.id);
    return {
      contents: [
        {
          uri: uri.toString(),
          mimeType: 'application/json',
          text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
        },
      ],
    };
  }

  @Resource({
    uri: 'test://watched-resource',
    name: 'watched-resource',
    title: 'Watched Resource',
    description: 'A resource clients may subscribe to (resources/subscribe)',
    mimeType: 'text/plain',
  })
  watched(): ReadResourceResult {
    return {
      contents: [
        { uri: 'test://watched-resource', mimeType: 'text/plain', text: 'Watched resource content' },
      ],
    };
  }
}
