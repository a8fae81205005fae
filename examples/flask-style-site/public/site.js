// The site's own code. It works whether or not the tracking script loaded.
const track = (...args) => window.UserTracking?.track(...args)
document.getElementById('cta-btn')?.addEventListener('click', () => {
  document.getElementById('cta-message').hidden = false
})
// Manual tracking, as the seed's "Track when users view specific content".
document.getElementById('learn-more')?.addEventListener('click', () => {
  track('content_view', 'article-123', { article_title: 'Sample Article', reading_time: '5 minutes' })
})
// Whether a submit succeeded is known to the site only: it reports success or failure itself.
const form = document.getElementById('contact-form')
form?.addEventListener('submit', async (event) => {
  event.preventDefault()
  const status = document.getElementById('contact-status')
  try {
    const response = await fetch('/contact', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(Object.fromEntries(new FormData(form))),
    })
    if (!response.ok) throw new Error(String(response.status))
    track('form_submit_success', form.id)
    status.textContent = 'Thanks, we will get back to you.'
    form.reset()
  } catch (error) {
    track('form_submit_error', form.id, { status: error.message })
    status.textContent = 'Sorry, that did not go through.'
  }
})
