'use strict';
(function () {
  const L = {
    'zh-CN': { sub: '事件响应设备控制台', name: '账号', password: '密码', submit: '登录', bad: '登录失败：' },
    en: { sub: 'Incident-response appliance console', name: 'Account', password: 'Password', submit: 'Log in', bad: 'Login failed: ' },
  };
  const $ = (id) => document.getElementById(id);
  let lang = localStorage.getItem('lang') || 'zh-CN';
  function render() {
    const d = L[lang] || L.en;
    document.documentElement.lang = lang;
    $('l-sub').textContent = d.sub;
    $('l-name').textContent = d.name;
    $('l-password').textContent = d.password;
    $('submit').textContent = d.submit;
    $('lang').value = lang;
  }
  $('lang').addEventListener('change', (e) => { lang = e.target.value; localStorage.setItem('lang', lang); render(); });
  $('login').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('error').textContent = '';
    try {
      const r = await fetch('/console/login', {
        method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: $('name').value, password: $('password').value }),
      });
      if (r.ok) { location.href = '/'; return; }
      const body = await r.json().catch(() => ({}));
      $('error').textContent = (L[lang] || L.en).bad + (body.error || r.status);
    } catch (err) {
      $('error').textContent = (L[lang] || L.en).bad + err;
    }
    $('password').value = '';
  });
  render();
})();
