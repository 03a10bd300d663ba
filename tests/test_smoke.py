from tests.builders import make_person, make_tree, nodes_at


def test_login_and_home(app, client, auth):
    make_tree()
    leader = make_person("neighbour_leader", nodes_at("neighbour")[0], name="王邻长")
    response = auth.login(leader.mobile)
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "王邻长" in page
