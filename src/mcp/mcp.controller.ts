import { All, Controller, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { McpHttpService } from './mcp-http.service';

/** `/mcp`: the Streamable HTTP endpoint (both protocol eras). */
@ApiExcludeController()
@Controller('mcp')
export class McpController {
  constructor(private readonly http: McpHttpService) {}

  @All()
  async handle(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.http.handle(req, res);
  }
}
