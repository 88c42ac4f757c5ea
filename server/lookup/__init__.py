"""The citizen's dossier lookup page on the phone (`/tra-cuu`, server-rendered, Vietnamese
first): `routes.bp`, registered by `server.create_app`."""
