import '@wikimedia/codex-design-tokens/theme-wikimedia-ui-root.css';
import '@wikimedia/codex/dist/codex.style-bidi.css';
import './styles/app.less';
import { createPinia } from 'pinia';
import { createApp } from 'vue';
import App from './App.vue';
import { i18nPlugin } from './i18n';
import { createAppRouter } from './router';

const app = createApp( App );
app.use( createPinia() );
app.use( i18nPlugin );
app.use( createAppRouter() );
app.mount( '#app' );
