import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { ModelOpsClient } from './api';
import { modelopsIcon } from './icon';
import { ModelOpsPanel } from './panel';

/** The id of the left-sidebar panel (tests find its tab by it). */
export const PANEL_ID = 'jupyter-modelops-panel';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-modelops:plugin',
  description: 'The ModelOps side panel: registry, deployments and reports, and actions on them.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null, palette: ICommandPalette | null) => {
    const client = new ModelOpsClient(app.serviceManager.serverSettings);
    const panel = new ModelOpsPanel(client);
    panel.id = PANEL_ID;
    panel.title.icon = modelopsIcon;
    panel.title.caption = 'ModelOps';
    app.shell.add(panel, 'left', { rank: 850 });
    restorer?.add(panel, PANEL_ID);

    const command = 'jupyter-modelops:open';
    app.commands.addCommand(command, {
      label: 'Open the ModelOps panel',
      execute: () => app.shell.activateById(PANEL_ID)
    });
    palette?.addItem({ command, category: 'ModelOps' });
  }
};

export default plugin;
