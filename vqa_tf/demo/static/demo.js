// The demo page: every answer, score, attention map and error shown here is what the model server returned.
"use strict";

const $ = (id) => document.getElementById(id);
let modelName = null;
let searchModel = null;    // the served m-DAN whose embed_text the search tab calls, if any
let image = null;          // the Blob the next question is about
let lastResult = null;     // {question, prediction}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function setImage(blob) {
  image = blob;
  $("preview").src = URL.createObjectURL(blob);
  $("preview").hidden = false;
  $("error").hidden = true;
}

function base64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result.slice(reader.result.indexOf(",") + 1));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

// One hop's attention [H][W] as an H×W canvas: red, opaque where the hop looks most.
function drawAttention(canvas, map) {
  const height = map.length, width = map[0].length;
  const peak = Math.max(...map.flat()) || 1;
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(width, height);
  map.flat().forEach((value, i) => {
    pixels.data[4 * i] = 255;
    pixels.data[4 * i + 3] = Math.round(255 * Math.max(0, value) / peak);
  });
  context.putImageData(pixels, 0, 0);
}

function showResult(question, prediction) {
  $("asked").textContent = question;
  $("answer").textContent = prediction.answer;
  const rows = $("top-answers").querySelector("tbody");
  rows.replaceChildren(...prediction.top_answers.map((answer, i) => {
    const row = document.createElement("tr");
    row.innerHTML = "<td></td><td></td>";
    row.cells[0].textContent = answer;
    row.cells[1].textContent = prediction.top_scores[i].toFixed(3);
    return row;
  }));
  const url = $("preview").src;
  $("hops").replaceChildren(...prediction.attention.map((map, k) => {
    const figure = document.createElement("figure");
    figure.className = "hop";
    figure.innerHTML = '<div class="stack"><img alt=""><canvas class="overlay"></canvas></div><figcaption></figcaption>';
    figure.querySelector("img").src = url;
    const canvas = figure.querySelector("canvas");
    canvas.id = `overlay-${k}`;
    canvas.style.opacity = $("opacity").value;
    drawAttention(canvas, map);
    figure.querySelector("figcaption").textContent = `hop ${k + 1}: “${question}” → ${prediction.answer}`;
    return figure;
  }));
  $("result").hidden = false;
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value;
  if (!image) {
    showError("choose an example image or drop one of your own first");
    return;
  }
  $("error").hidden = true;
  $("ask-button").disabled = true;
  try {
    const body = {instances: [{question, image: {b64: await base64(image)}}]};
    const response = await fetch(`/v1/models/${encodeURIComponent(modelName)}:predict`, {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    const answer = await response.json().catch(() => ({error: `the server answered ${response.status}`}));
    if (!response.ok || answer.error) {
      showError(answer.error || `the server answered ${response.status}`);
      return;
    }
    lastResult = {question, prediction: answer.predictions[0]};
    showResult(question, lastResult.prediction);
  } catch (error) {
    showError(`the request failed: ${error}`);
  } finally {
    $("ask-button").disabled = false;
  }
}

// The search tab: the m-DAN embeds the sentence on the model server; the page server looks it up in the index.
async function search(event) {
  event.preventDefault();
  $("search-error").hidden = true;
  $("search-button").disabled = true;
  try {
    const embedded = await fetch(`/v1/models/${encodeURIComponent(searchModel)}:predict`, {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({signature_name: "embed_text", instances: [{caption: $("sentence").value}]})});
    const answer = await embedded.json().catch(() => ({error: `the server answered ${embedded.status}`}));
    if (!embedded.ok || answer.error) throw new Error(answer.error || `the server answered ${embedded.status}`);
    const row = answer.predictions[0];
    const found = await fetch("/search", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({embedding: Array.isArray(row) ? row : row.embedding, k: 8})});
    const results = await found.json();
    if (!found.ok) throw new Error(results.error);
    $("thumbnails").replaceChildren(...results.results.map((result, rank) => {
      const figure = document.createElement("figure");
      figure.innerHTML = "<img alt=''><figcaption></figcaption>";
      figure.querySelector("img").src = result.image;
      figure.querySelector("img").dataset.name = result.name;
      figure.querySelector("figcaption").textContent = `${rank + 1}. ${result.name} (${result.score.toFixed(2)})`;
      return figure;
    }));
  } catch (error) {
    $("search-error").textContent = error.message;
    $("search-error").hidden = false;
  } finally {
    $("search-button").disabled = false;
  }
}

function showTab(name) {
  $("search").hidden = name !== "search";
  $("input").hidden = name === "search";
  $("result").hidden = name === "search" || !lastResult;
  $("tab-ask").classList.toggle("active", name !== "search");
  $("tab-search").classList.toggle("active", name === "search");
}

async function init() {
  const config = await (await fetch("/config.json")).json();
  modelName = config.model_name;
  $("model-name").textContent = modelName;
  for (const name of config.examples) {
    $("examples").add(new Option(name, name));
  }
  $("examples").addEventListener("change", async () => {
    if ($("examples").value) {
      setImage(await (await fetch(`/examples/${encodeURIComponent($("examples").value)}`)).blob());
    }
  });
  $("file").addEventListener("change", () => $("file").files[0] && setImage($("file").files[0]));
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer.files[0]) setImage(event.dataTransfer.files[0]);
  });
  $("opacity").addEventListener("input", () => {
    document.querySelectorAll("canvas.overlay").forEach((canvas) => { canvas.style.opacity = $("opacity").value; });
  });
  $("ask").addEventListener("submit", ask);
  if (config.search_model) {
    searchModel = config.search_model;
    $("search-model").textContent = searchModel;
    $("tabs").hidden = false;
    $("tab-ask").addEventListener("click", () => showTab("ask"));
    $("tab-search").addEventListener("click", () => showTab("search"));
    $("search-form").addEventListener("submit", search);
  }
}

init();
