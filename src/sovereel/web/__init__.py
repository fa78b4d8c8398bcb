"""The web pages: server-rendered Jinja2 templates and the vanilla-JS player, mounted by `pages.install(app)`."""
